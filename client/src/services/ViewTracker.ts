import type { RequestPayload } from '../../../shared/index.ts';

type Update = RequestPayload<'updateConsumers'>['updates'][number];
type Wanted = { paused: boolean; spatialLayer?: number };

const SETTLE_MS = 150;

/** The simulcast layer for a tile this many device pixels tall: ¼, ½ or full resolution of 720p. */
export function layerForHeight(devicePixels: number): number {
  if (devicePixels <= 200) return 0;
  if (devicePixels <= 420) return 1;
  return 2;
}

/**
 * Knows which received videos are on screen and how big, and keeps the server in step: a video whose
 * tile is off-page, scrolled out of the filmstrip, or in a background tab is paused (it costs no
 * bandwidth), and a shown one asks for the layer its size needs. Changes are batched.
 */
export class ViewTracker {
  readonly #tiles = new Map<Element, { consumerId: string; visible: boolean; height: number }>();
  readonly #videos = new Set<string>();
  /** What the server was last told per consumer; video consumers start paused on the server. */
  readonly #told = new Map<string, Wanted>();
  readonly #intersections: IntersectionObserver;
  readonly #sizes: ResizeObserver;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #audioOnly = false;

  constructor(private readonly send: (updates: Update[]) => Promise<void>) {
    this.#intersections = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const tile = this.#tiles.get(entry.target);
        if (tile) tile.visible = entry.isIntersecting;
      }
      this.#schedule();
    });
    this.#sizes = new ResizeObserver((entries) => {
      for (const entry of entries) {
        const tile = this.#tiles.get(entry.target);
        if (tile) tile.height = entry.contentRect.height;
      }
      this.#schedule();
    });
    document.addEventListener('visibilitychange', this.#onVisibility);
  }

  /** A received video exists (it stays paused until a visible tile shows it). */
  addVideo(consumerId: string): void {
    this.#videos.add(consumerId);
    this.#told.set(consumerId, { paused: true });
    this.#schedule();
  }

  removeVideo(consumerId: string): void {
    this.#videos.delete(consumerId);
    this.#told.delete(consumerId);
  }

  /** Low-bandwidth mode: every video paused, sound only. */
  setAudioOnly(audioOnly: boolean): void {
    this.#audioOnly = audioOnly;
    this.#schedule();
  }

  observe(element: Element, consumerId: string): void {
    this.#tiles.set(element, { consumerId, visible: false, height: element.getBoundingClientRect().height });
    this.#intersections.observe(element);
    this.#sizes.observe(element);
  }

  unobserve(element: Element): void {
    if (!this.#tiles.delete(element)) return;
    this.#intersections.unobserve(element);
    this.#sizes.unobserve(element);
    this.#schedule();
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#intersections.disconnect();
    this.#sizes.disconnect();
    document.removeEventListener('visibilitychange', this.#onVisibility);
  }

  readonly #onVisibility = () => this.#schedule();

  #schedule(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, SETTLE_MS);
  }

  #wanted(consumerId: string): Wanted {
    if (this.#audioOnly || document.visibilityState === 'hidden') return { paused: true };
    let tallest = -1;
    for (const tile of this.#tiles.values()) {
      if (tile.consumerId === consumerId && tile.visible) tallest = Math.max(tallest, tile.height);
    }
    if (tallest < 0) return { paused: true };
    return { paused: false, spatialLayer: layerForHeight(tallest * window.devicePixelRatio) };
  }

  #flush(): void {
    const updates: Update[] = [];
    for (const consumerId of this.#videos) {
      const wanted = this.#wanted(consumerId);
      const told = this.#told.get(consumerId);
      if (told && told.paused === wanted.paused && told.spatialLayer === wanted.spatialLayer) continue;
      this.#told.set(consumerId, wanted);
      updates.push({ consumerId, ...wanted });
    }
    if (updates.length === 0) return;
    this.send(updates).catch((error: unknown) => {
      // Forget what we thought we told, so the next change retries these.
      for (const update of updates) this.#told.delete(update.consumerId);
      console.warn('view update failed', error);
    });
  }
}
