/**
 * One meeting participant in a real Chromium page, and what the page itself measures. Everything is
 * read from `window.roundtable.stats()`, the client's own getStats() summary.
 *
 * The functions passed to page.evaluate run in the browser, serialised as source text: they use only
 * inline anonymous callbacks, because a named helper would be rewritten by the TypeScript loader into
 * code that refers to a helper that exists in Node, not in the page.
 */
import type { Browser, BrowserContext, Page } from '@playwright/test';

export interface Participant {
  name: string;
  context: BrowserContext;
  page: Page;
  /** Epoch ms just before the page started loading the meeting. */
  openedAt: number;
  /** Epoch ms at which the page first had a remote video frame decoded; null if it never did in time. */
  firstRemoteFrameAt: Promise<number | null>;
}

export interface InboundSample {
  /** peerId/source/kind: one remote stream. */
  key: string;
  kind: string;
  framesDecoded: number;
  packetsLost: number;
  packetsReceived: number;
}

export interface OpenOptions {
  baseUrl: string;
  roomId: string;
  name: string;
  res: number;
  timeoutMs: number;
  onLog: (message: string) => void;
}

/** The viewport the end-to-end tests use. */
const VIEWPORT = { width: 1280, height: 720 };
const POLL_MS = 50;

/** Opens a participant in its own browser context (its own fake camera and storage) and joins by URL. */
export async function openParticipant(browser: Browser, options: OpenOptions): Promise<Participant> {
  const { name } = options;
  const context = await browser.newContext({ viewport: VIEWPORT, permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  page.on('pageerror', (error) => options.onLog(`${name}: page error: ${error.message}`));
  const url = `${options.baseUrl}/room/${options.roomId}?name=${encodeURIComponent(name)}&join=1&res=${options.res}`;
  const openedAt = Date.now();
  // 'commit': start watching as soon as the document exists, not after it has finished loading.
  await page.goto(url, { waitUntil: 'commit' });
  const firstRemoteFrameAt = page
    .evaluate(
      async ({ timeoutMs, pollMs }) => {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
          const stats = await window.roundtable?.stats();
          // The page's clock is the machine's clock: the Node side subtracts openedAt from this.
          if (stats?.inbound.some((s) => s.kind === 'video' && s.framesDecoded > 0)) return Date.now();
          await new Promise((resolve) => setTimeout(resolve, pollMs));
        }
        return null;
      },
      { timeoutMs: options.timeoutMs, pollMs: POLL_MS },
    )
    // A page that crashed or closed mid-wait never showed video: the result says so, the log says why.
    .catch((error: unknown) => {
      options.onLog(`${name}: stopped watching for video: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    });
  return { name, context, page, openedAt, firstRemoteFrameAt };
}

/**
 * Epoch ms at which the page decodes video from at least `peers` other participants (polled in the
 * page, like the first frame); null if that does not happen within the timeout.
 */
export async function allRemoteVideoAt(
  page: Page,
  peers: number,
  timeoutMs: number,
  onLog: (message: string) => void,
): Promise<number | null> {
  return page
    .evaluate(
      async ({ peers, timeoutMs, pollMs }) => {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
          const stats = await window.roundtable?.stats();
          const decoding = new Set((stats?.inbound ?? []).filter((s) => s.kind === 'video' && s.framesDecoded > 0).map((s) => s.peerId));
          if (decoding.size >= peers) return Date.now();
          await new Promise((resolve) => setTimeout(resolve, pollMs));
        }
        return null;
      },
      { peers, timeoutMs, pollMs: POLL_MS },
    )
    .catch((error: unknown) => {
      onLog(`stopped waiting for all video: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    });
}

/** Resolves once the page says it has joined (the first participant has nobody to see yet). */
export async function waitUntilJoined(page: Page, timeoutMs: number): Promise<boolean> {
  try {
    await page.waitForFunction(() => window.roundtable?.status() === 'joined', undefined, { timeout: timeoutMs, polling: POLL_MS });
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === 'TimeoutError') return false;
    throw error;
  }
}

/** Every remote stream the page receives, with its cumulative counters. */
export async function sampleInbound(page: Page): Promise<InboundSample[]> {
  return page.evaluate(async () => {
    const stats = await window.roundtable?.stats();
    return (stats?.inbound ?? []).map((s) => ({
      key: `${s.peerId}/${s.source}/${s.kind}`,
      kind: s.kind,
      framesDecoded: s.framesDecoded,
      packetsLost: s.packetsLost,
      packetsReceived: s.packetsReceived,
    }));
  });
}
