import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../playwright.config.ts';
import { workerCounts } from '../helpers/server.ts';
import { expect, inboundSummary, joinByUrl, test } from './fixtures.ts';

test.describe(() => {
  // One retry, as for the other tests that wait for a camera's top layer: on a starved machine
  // Chromium may keep r2 off for a while (quality limited by CPU); the printout then says so.
  test.describe.configure({ retries: 1 });
  test('three people meet: each decodes video and receives audio from both others over 3-layer simulcast', async ({ browser, sfu }) => {
    const roomId = 'e2e-three';
    const names = ['Ada', 'Brian', 'Chen'];
    // Tiles about 530 px tall want the full layer; with smaller ones dynacast would rightly stop r2.
    const contexts = await Promise.all(names.map(() => browser.newContext({ viewport: { width: 1920, height: 1080 } })));
    const pages = [];
    for (const [i, name] of names.entries()) pages.push(await joinByUrl(contexts[i]!, sfu.url, roomId, name));

    for (const page of pages) {
      await expect(page.getByTestId('tile')).toHaveCount(3);
      await expect
        .poll(() => inboundSummary(page), { timeout: 30_000, message: 'decoding both others' })
        .toMatchObject({ peers: 2, videoPeersDecoding: 2, audioPeersReceiving: 2 });
      expect((await inboundSummary(page)).minFrameWidth).toBeGreaterThan(0);
    }
    // The <video> elements really play: remote tiles have intrinsic size.
    const widths = await pages[0]!.locator('[data-testid=tile][data-local=false] video').evaluateAll((els) =>
      els.map((el) => (el as HTMLVideoElement).videoWidth),
    );
    expect(widths).toHaveLength(2);
    for (const width of widths) expect(width).toBeGreaterThan(0);

    // Server side: every camera producer is simulcast and receives three RTP streams (r0, r1, r2).
    const room = sfu.server.registry.get(roomId)!;
    const cameras = [...room.peers.values()].flatMap((peer) => [...peer.producers.values()]).filter((p) => p.appData.source === 'camera');
    expect(cameras).toHaveLength(3);
    for (const camera of cameras) {
      expect(camera.type).toBe('simulcast');
      try {
        await expect
          .poll(async () => (await camera.getStats()).filter((s) => s.byteCount > 0).map((s) => s.rid).sort(), { timeout: 40_000 })
          .toEqual(['r0', 'r1', 'r2']); // the publisher's estimate climbs to r2 slowly under load
      } catch (error) {
        const page = pages[names.indexOf(room.peers.get(camera.appData.peerId)!.displayName)]!;
        const sent = (await page.evaluate(() => window.roundtable?.stats()))?.outbound
          .filter((s) => s.source === 'camera')
          .map((s) => `${s.rid} ${s.frameWidth}px limited by ${s.qualityLimitationReason ?? '?'}`);
        console.log(`not every layer reached the server from ${camera.appData.peerId}; its browser sends: ${sent?.join(', ')}`);
        throw error;
      }
    }
    await Promise.all(contexts.map((c) => c.close()));
  });
});

test('a leaver disappears from the others within 2 s; the empty room is destroyed and leaks nothing', async ({ browser, sfu }) => {
  const roomId = 'e2e-leave';
  // A page closed by an earlier test may not have said goodbye (its pagehide raced the close); the
  // server then holds its place for the reconnect grace period. Wait that out before counting.
  const graceMs = sfu.server.config.rooms.reconnectGraceMs;
  await expect.poll(() => sfu.server.registry.size, { timeout: graceMs + 10_000 }).toBe(0);
  const before = await workerCounts(sfu.server);
  const contexts = await Promise.all([0, 1, 2].map(() => browser.newContext()));
  const [a, b, c] = [
    await joinByUrl(contexts[0]!, sfu.url, roomId, 'Ama'),
    await joinByUrl(contexts[1]!, sfu.url, roomId, 'Bo'),
    await joinByUrl(contexts[2]!, sfu.url, roomId, 'Cy'),
  ];
  for (const page of [a, b, c]) await expect(page.getByTestId('tile')).toHaveCount(3);

  await c.getByTestId('leave-button').click();
  for (const page of [a, b]) {
    await expect(page.getByTestId('tile'), 'leaver gone within 2 s').toHaveCount(2, { timeout: 2_000 });
    await expect(page.getByTestId('tile-name').filter({ hasText: 'Cy' })).toHaveCount(0);
  }
  await expect(c.getByText('You left the meeting')).toBeVisible();

  // Closing a tab without pressing leave counts as leaving too.
  await contexts[1]!.close();
  await expect(a.getByTestId('tile')).toHaveCount(1, { timeout: 2_000 });

  await contexts[0]!.close();
  await contexts[2]!.close();
  await expect.poll(() => sfu.server.registry.get(roomId)).toBeUndefined();
  await expect.poll(() => workerCounts(sfu.server)).toEqual(before);
});

test('the pre-join screen previews the camera, takes a name and joins', async ({ browser, sfu }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${sfu.url}/`);
  await page.getByTestId('create-meeting').click();
  // New meeting opens the host link of a meeting the server created.
  await expect(page).toHaveURL(/\/room\/[a-z2-9]{4}(-[a-z2-9]{4}){3}\?key=[A-Za-z0-9_-]{16,64}$/);
  const preview = page.locator('.preview video');
  await expect.poll(() => preview.evaluate((el) => (el as HTMLVideoElement).videoWidth)).toBeGreaterThan(0);
  await page.getByLabel('Your name').fill('<b>Dana</b>');
  await page.getByTestId('join-button').click();
  await expect(page.getByTestId('call')).toHaveAttribute('data-status', 'joined');
  // User text is shown as text, never as markup.
  await expect(page.getByTestId('tile-name')).toHaveText('<b>Dana</b> (you)');
  await expect(page.locator('[data-testid=tile-name] b')).toHaveCount(0);
  await context.close();
});

test('a refused camera and microphone get a clear message, and the person can still join to watch', async ({ sfu }) => {
  // --use-fake-ui-for-media-stream would accept every request, whatever the site settings say.
  const args = CHROMIUM_ARGS.filter((arg) => arg !== '--use-fake-ui-for-media-stream');
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args });
  const context = await browser.newContext();
  const page = await context.newPage();
  // Deny as a person clicking "Block" would: a site setting, so no prompt appears.
  const cdp = await context.newCDPSession(page);
  const { targetInfo } = await cdp.send('Target.getTargetInfo');
  for (const name of ['camera', 'microphone']) {
    await cdp.send('Browser.setPermission', {
      permission: { name },
      setting: 'denied',
      origin: sfu.url,
      browserContextId: targetInfo.browserContextId,
    });
  }
  await page.goto(`${sfu.url}/room/e2e-denied`);
  await expect(page.getByTestId('media-problem')).toContainText('Permission to use the camera was denied');
  await expect(page.getByTestId('media-problem')).toContainText('microphone');
  await page.getByLabel('Your name').fill('Eve');
  await page.getByTestId('join-button').click();
  await expect(page.getByTestId('call')).toHaveAttribute('data-status', 'joined');
  await expect(page.getByTestId('tile')).toHaveCount(1);
  await browser.close();
});

test('an unreachable server is reported clearly', async ({ browser, sfu }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.routeWebSocket(/socket\.io/, (ws) => ws.close()); // the signaling server refuses every connection
  await page.goto(`${sfu.url}/room/e2e-offline?name=Finn&join=1`);
  await expect(page.getByTestId('room-error')).toContainText('cannot be reached', { timeout: 15_000 });
  await context.close();
});
