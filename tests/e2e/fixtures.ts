import path from 'node:path';
import { type BrowserContext, type Page, test as base, expect } from '@playwright/test';
import { EntryPoint } from '../helpers/entry-point.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

export { expect };

/** A server serving the built client, with config overrides for tests that need their own. */
export function startAppServer(overrides: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  return startTestServer({ http: { host: '127.0.0.1', port: 0, staticDir: path.resolve('client/dist') }, ...overrides });
}

/** The real process (`node sfu/src/main.ts`) serving the built client on `port`: restart tests. */
export function startAppProcess(dataDir: string, port: number): EntryPoint {
  const env = { PORT: String(port), ROUNDTABLE_ADMIN_PORT: '0', ROUNDTABLE_STATIC_DIR: path.resolve('client/dist') };
  return new EntryPoint(dataDir, { env });
}

/** A real Roundtable server per Playwright worker, serving the built client on a free port. */
export const test = base.extend<object, { sfu: TestServer }>({
  sfu: [
    async ({}, use) => {
      const sfu = await startAppServer();
      await use(sfu);
      await sfu.close();
    },
    { scope: 'worker' },
  ],
});

/** The tile of one peer's camera (or screen) as another page shows it. */
export function tileOf(page: Page, peerId: string, source: 'camera' | 'screen' = 'camera') {
  return page.locator(`[data-testid=tile][data-peer-id="${peerId}"][data-source="${source}"]`);
}

export async function peerIdOf(page: Page): Promise<string> {
  const id = await page.evaluate(() => window.roundtable?.peerId());
  if (!id) throw new Error('page has not joined');
  return id;
}

/** The widest frame the page is decoding from one peer's camera (0 when none). */
export async function frameWidthFrom(page: Page, peerId: string): Promise<number> {
  return page.evaluate(async (peerId) => {
    const stats = await window.roundtable?.stats();
    return Math.max(0, ...(stats?.inbound ?? []).filter((s) => s.peerId === peerId && s.source === 'camera').map((s) => s.frameWidth));
  }, peerId);
}

/** Frames decoded so far from one peer's source, as the page's own getStats() counts them. */
export async function framesFrom(page: Page, peerId: string, source: 'camera' | 'screen'): Promise<number> {
  return page.evaluate(
    async ({ peerId, source }) => {
      const stats = await window.roundtable?.stats();
      return (stats?.inbound ?? []).filter((s) => s.peerId === peerId && s.source === source).reduce((n, s) => n + s.framesDecoded, 0);
    },
    { peerId, source },
  );
}

export interface InboundSummary {
  peers: number;
  videoPeersDecoding: number;
  audioPeersReceiving: number;
  minFrameWidth: number;
}

/**
 * Joins by URL (skipping the pre-join screen), one person per browser context. `res` keeps the camera
 * small where many pages share the machine's two cores.
 */
export async function joinByUrl(
  context: BrowserContext,
  baseUrl: string,
  roomId: string,
  name: string,
  options: { res?: number; page?: Page; relay?: boolean; timeout?: number; key?: string } = {},
): Promise<Page> {
  const page = options.page ?? (await context.newPage());
  page.on('pageerror', (error) => console.error(`[${name}] page error:`, error.message));
  const res = options.res ? `&res=${options.res}` : '';
  const relay = options.relay ? '&relay=1' : '';
  const key = options.key ? `&key=${options.key}` : ''; // a host link
  await page.goto(`${baseUrl}/room/${roomId}?name=${encodeURIComponent(name)}&join=1${res}${relay}${key}`);
  await expect(page.getByTestId('call')).toHaveAttribute('data-status', 'joined', options.timeout ? { timeout: options.timeout } : {});
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

/** A moderator's action on one person, from the participants panel (opened if needed). */
export async function hostAction(page: Page, peerId: string, action: string): Promise<void> {
  const panel = page.getByTestId('participants-panel');
  if (!(await panel.isVisible())) await page.getByTestId('participants-button').click();
  const row = panel.locator(`[data-testid=participant-row][data-peer-id="${peerId}"]`);
  await row.getByTestId('host-menu').click();
  await row.getByTestId(action).click();
}
