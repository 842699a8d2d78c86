import { expect, framesFrom, joinByUrl, peerIdOf, test, tileOf } from './fixtures.ts';

test('a signaling connection cut for 4 s comes back in the same place: nobody sees a leave, video decodes again', async ({ browser, sfu }) => {
  const roomId = 'e2e-blip';
  const [adaContext, benContext] = [await browser.newContext(), await browser.newContext()];
  const ada = await joinByUrl(adaContext, sfu.url, roomId, 'Ada', { res: 180 });
  const ben = await joinByUrl(benContext, sfu.url, roomId, 'Ben', { res: 180 });
  const [adaId, benId] = [await peerIdOf(ada), await peerIdOf(ben)];
  await expect.poll(() => framesFrom(ben, adaId, 'camera'), { timeout: 20_000 }).toBeGreaterThan(0);

  // While blocked, every new WebSocket from Ben's page fails; the live one is cut on the server.
  let blocked = true;
  await ben.routeWebSocket(/socket\.io/, (ws) => (blocked ? ws.close() : ws.connectToServer()));
  const socketId = await ben.evaluate(() => window.roundtable?.socketId());
  sfu.server.io.sockets.sockets.get(socketId!)!.conn.close();
  await expect(ben.getByTestId('reconnecting')).toBeVisible();

  for (let i = 0; i < 16; i++) {
    await expect(tileOf(ada, benId), 'Ada never sees Ben leave').toHaveCount(1, { timeout: 100 });
    await ada.waitForTimeout(250);
  }
  blocked = false;
  await expect(ben.getByTestId('reconnecting')).toHaveCount(0, { timeout: 20_000 });
  await expect(ben.getByTestId('call')).toHaveAttribute('data-status', 'joined');

  expect(await peerIdOf(ben)).toBe(benId);
  const room = sfu.server.registry.get(roomId)!;
  expect([...room.peers.keys()].sort()).toEqual([adaId, benId].sort());
  // Media flows both ways afterwards.
  const benSees = await framesFrom(ben, adaId, 'camera');
  const adaSees = await framesFrom(ada, benId, 'camera');
  await expect.poll(() => framesFrom(ben, adaId, 'camera'), { timeout: 20_000 }).toBeGreaterThan(benSees + 20);
  await expect.poll(() => framesFrom(ada, benId, 'camera'), { timeout: 20_000 }).toBeGreaterThan(adaSees + 20);
  await adaContext.close();
  await benContext.close();
});

test('a second tab with the same identity replaces the first instead of appearing twice', async ({ browser, sfu }) => {
  const roomId = 'e2e-second-tab';
  const adaContext = await browser.newContext();
  const benContext = await browser.newContext();
  const firstTab = await joinByUrl(adaContext, sfu.url, roomId, 'Ada', { res: 180 });
  const ben = await joinByUrl(benContext, sfu.url, roomId, 'Ben', { res: 180 });
  const adaId = await peerIdOf(firstTab);
  await expect(ben.getByTestId('tile')).toHaveCount(2);

  const secondTab = await joinByUrl(adaContext, sfu.url, roomId, 'Ada', { res: 180 });
  await expect(firstTab.getByTestId('replaced')).toBeVisible();
  expect(await peerIdOf(secondTab)).toBe(adaId);
  expect(sfu.server.registry.get(roomId)!.peers.size).toBe(2);
  await expect(ben.getByTestId('tile')).toHaveCount(2);
  await expect(tileOf(ben, adaId)).toHaveCount(1);
  // Ben receives the new tab's camera.
  await expect.poll(() => framesFrom(ben, adaId, 'camera'), { timeout: 20_000 }).toBeGreaterThan(0);
  await adaContext.close();
  await benContext.close();
});
