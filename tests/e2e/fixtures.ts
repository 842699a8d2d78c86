import path from 'node:path';
import { type BrowserContext, type Page, test as base, expect } from '@playwright/test';
import { type TestServer, startTestServer } from '../helpers/server.ts';

export { expect };

/** A real Roundtable server per Playwright worker, serving the built client on a free port. */
export const test = base.extend<object, { sfu: TestServer }>({
  sfu: [
    async ({}, use) => {
      const sfu = await startTestServer({ http: { host: '127.0.0.1', port: 0, staticDir: path.resolve('client/dist') } });
      await use(sfu);
      await sfu.close();
    },
    { scope: 'worker' },
  ],
});

export interface InboundSummary {
  peers: number;
  videoPeersDecoding: number;
  audioPeersReceiving: number;
  minFrameWidth: number;
}

/** Joins by URL (skipping the pre-join screen) in a fresh browser context: one person per context. */
export async function joinByUrl(context: BrowserContext, baseUrl: string, roomId: string, name: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[${name}] page error:`, error.message));
  await page.goto(`${baseUrl}/room/${roomId}?name=${encodeURIComponent(name)}&join=1`);
  await expect(page.getByTestId('call')).toHaveAttribute('data-status', 'joined');
  return page;
}

/** What the page's own RTCPeerConnection stats say it is decoding, per remote peer. */
export async function inboundSummary(page: Page): Promise<InboundSummary> {
  return page.evaluate(async () => {
    const stats = await window.roundtable?.stats();
    const inbound = stats?.inbound ?? [];
    const video = inbound.filter((s) => s.kind === 'video' && s.framesDecoded > 0 && s.frameWidth > 0);
    const audio = inbound.filter((s) => s.kind === 'audio' && s.bytesReceived > 0);
    return {
      peers: new Set(inbound.map((s) => s.peerId)).size,
      videoPeersDecoding: new Set(video.map((s) => s.peerId)).size,
      audioPeersReceiving: new Set(audio.map((s) => s.peerId)).size,
      minFrameWidth: video.length ? Math.min(...video.map((s) => s.frameWidth)) : 0,
    };
  });
}
