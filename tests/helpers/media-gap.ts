/**
 * How long a page goes without video from the others after a fault on the server: measured in the
 * page from its own getStats() (through `window.roundtable.stats()`), polled every 50 ms.
 *
 * The function passed to page.evaluate runs in the browser, serialised as source text: it uses only
 * inline anonymous callbacks (a named helper would be rewritten by the TypeScript loader into code
 * that refers to a helper that exists in Node, not in the page).
 */
import type { Page } from '@playwright/test';

/**
 * Starts watching the page's camera streams from `peerIds` (all must be decoding already). A stream
 * counts as back when the page decodes frames on a new receiver: its decoded-frame count, which a new
 * consumer starts again from zero, is above zero but below the highest count seen from that peer.
 * Resolves with the epoch ms (this machine's clock) when every peer is back, or null at the timeout.
 */
export function watchVideoComeBack(page: Page, peerIds: string[], timeoutMs: number): Promise<number | null> {
  return page.evaluate(
    async ({ peerIds, timeoutMs }) => {
      const highest = new Map<string, number>();
      const back = new Set<string>();
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const stats = await window.roundtable?.stats();
        for (const peerId of peerIds) {
          const frames = (stats?.inbound ?? [])
            .filter((s) => s.peerId === peerId && s.source === 'camera')
            .reduce((n, s) => n + s.framesDecoded, 0);
          const seen = highest.get(peerId) ?? 0;
          if (frames > 0 && frames < seen) back.add(peerId);
          highest.set(peerId, Math.max(seen, frames));
        }
        if (back.size === peerIds.length) return Date.now();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return null;
    },
    { peerIds, timeoutMs },
  );
}
