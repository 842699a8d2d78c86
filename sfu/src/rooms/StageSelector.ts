import { TypedEmitter } from '../typed-emitter.ts';

/** Someone counts as still talking this long after their level last crossed the threshold. */
export const RECENT_SPEECH_MS = 1_200;

/**
 * Who holds the stage. The current speaker keeps it for at least `holdMs`; a challenger named
 * during the hold takes it when the hold ends only if still talking then, so a short noise never
 * steals the stage and two people trading words do not make it flicker.
 */
export class StageSelector extends TypedEmitter<{ change: [peerId: string | null] }> {
  #current: string | null = null;
  #since = 0;
  #challenger: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #lastSpokeAt = new Map<string, number>();

  constructor(private readonly holdMs: number) {
    super();
  }

  get current(): string | null {
    return this.#current;
  }

  /** The dominant-speaker detector names a peer. */
  dominant(peerId: string): void {
    if (peerId === this.#current) {
      this.#challenger = undefined;
      this.#clearTimer();
      return;
    }
    this.#lastSpokeAt.set(peerId, Date.now());
    this.#challenger = peerId;
    const wait = this.#current === null ? 0 : this.#since + this.holdMs - Date.now();
    if (wait <= 0) return this.#switchTo(peerId);
    this.#clearTimer();
    this.#timer = setTimeout(() => this.#decide(), wait);
  }

  /** Audio levels say these peers are audible right now. */
  spoke(peerIds: Iterable<string>): void {
    const now = Date.now();
    for (const id of peerIds) this.#lastSpokeAt.set(id, now);
  }

  /** The peer is gone or muted: it cannot hold the stage, and a waiting challenger may take it now. */
  removePeer(peerId: string): void {
    this.#lastSpokeAt.delete(peerId);
    if (this.#challenger === peerId) this.#challenger = undefined;
    if (this.#current !== peerId) return;
    this.#switchTo(this.#challenger ?? null);
  }

  close(): void {
    this.#clearTimer();
    this.removeAllListeners();
  }

  #decide(): void {
    this.#timer = undefined;
    const challenger = this.#challenger;
    if (!challenger) return;
    if (Date.now() - (this.#lastSpokeAt.get(challenger) ?? 0) <= RECENT_SPEECH_MS) this.#switchTo(challenger);
    else this.#challenger = undefined;
  }

  #switchTo(peerId: string | null): void {
    this.#clearTimer();
    this.#challenger = undefined;
    this.#current = peerId;
    this.#since = Date.now();
    this.emit('change', peerId);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
