import { randomInt } from 'node:crypto';
import type { BrowserContext, Page } from '@playwright/test';
import { watchVideoComeBack } from '../helpers/media-gap.ts';
import type { TestServer } from '../helpers/server.ts';
import { expect, framesFrom, joinByUrl, peerIdOf, startAppServer, test } from './fixtures.ts';

/** Membership news a page receives over its signaling WebSocket (Socket.IO frames `42["peerLeft",…]`). */
function recordMembershipNews(page: Page): string[] {
  const seen: string[] = [];
  page.on('websocket', (ws) =>
    ws.on('framereceived', ({ payload }) => {
      const text = typeof payload === 'string' ? payload : payload.toString();
      const event = /^\d+\["(peerJoined|peerLeft|roomClosed|sessionReplaced)"/.exec(text)?.[1];
      if (event) seen.push(event);
    }),
  );
  return seen;
}

test.describe('a mediasoup worker dies under a meeting', () => {
  let sfu: TestServer;
  // Two workers, each on its own fixed port (as in production), so the replacement reuses the port.
  const basePort = randomInt(42_000, 48_000);
  test.beforeAll(async () => {
    sfu = await startAppServer({ workers: { count: 2 }, rtc: { listenIp: '127.0.0.1', basePort } });
  });
  test.afterAll(async () => {
    await sfu?.close();
  });

  test('killed with SIGKILL: nobody leaves, the chat stays, every page decodes every other again', async ({ browser }) => {
    const roomId = 'e2e-worker-death';
    const names = ['Ada', 'Ben', 'Cho'];
    const contexts: BrowserContext[] = await Promise.all(names.map(() => browser.newContext()));
    try {
      const pages: Page[] = [];
      const news: string[][] = [];
      for (const [i, name] of names.entries()) {
        const page = await contexts[i]!.newPage();
        news.push(recordMembershipNews(page));
        pages.push(await joinByUrl(contexts[i]!, sfu.url, roomId, name, { res: 180, page }));
      }
      const ids = await Promise.all(pages.map(peerIdOf));
      const others = (i: number) => ids.filter((_, j) => j !== i);
      for (const [i, page] of pages.entries()) {
        await expect(page.getByTestId('tile')).toHaveCount(3);
        for (const id of others(i)) await expect.poll(() => framesFrom(page, id, 'camera'), { timeout: 30_000 }).toBeGreaterThan(0);
      }
      const ben = pages[1]!;
      await ben.getByTestId('mic-button').click(); // Ben is muted: he must come back muted
      await expect(ben.getByTestId('mic-button')).toHaveAttribute('aria-pressed', 'true');
      await pages[0]!.getByTestId('chat-button').click();
      await pages[0]!.getByTestId('chat-input').fill('before the crash');
      await pages[0]!.getByTestId('chat-input').press('Enter');
      await expect(pages[0]!.getByTestId('chat-message')).toHaveCount(1);
      for (const page of pages) await page.evaluate(() => ((window as unknown as { beforeCrash: boolean }).beforeCrash = true));

      // From server state: the worker carrying the room (every peer is on its main router).
      const room = sfu.server.registry.get(roomId)!;
      const router = room.routers.main;
      expect([...room.peers.values()].every((peer) => peer.router === router)).toBe(true);
      const deadPid = router.appData.workerPid;
      const deadIndex = router.appData.workerIndex;
      const portsBefore = (await sfu.server.pool.listeningPorts())[deadIndex]!;
      expect(news[0], 'the recorder sees membership news: Ada saw Ben and Cho join').toEqual(['peerJoined', 'peerJoined']);
      const newsBefore = news.map((n) => n.length);

      const comeBack = pages.map((page, i) => watchVideoComeBack(page, others(i), 60_000));
      await pages[0]!.waitForTimeout(300); // a few samples before the kill
      const killedAt = Date.now();
      process.kill(deadPid, 'SIGKILL');
      const backAt = await Promise.all(comeBack);
      const gaps = backAt.map((at) => (at === null ? null : at - killedAt));
      console.log(`worker-death media gap (SIGKILL to video from both others decoding again) per page: ${names.map((n, i) => `${n} ${gaps[i] ?? 'never'} ms`).join(', ')}`);
      expect(gaps.every((gap) => gap !== null), 'every page decodes video from every other page again').toBe(true);

      // The frames keep coming, on receivers made after the kill.
      for (const [i, page] of pages.entries()) {
        for (const id of others(i)) {
          const now = await framesFrom(page, id, 'camera');
          await expect.poll(() => framesFrom(page, id, 'camera'), { timeout: 20_000 }).toBeGreaterThan(now + 10);
        }
      }
      // The pool is whole again; the replacement listens where the dead worker did.
      await expect.poll(() => sfu.server.pool.workers().length).toBe(2);
      expect(sfu.server.pool.workers().map((w) => w.pid)).not.toContain(deadPid);
      expect((await sfu.server.pool.listeningPorts())[deadIndex]).toEqual(portsBefore);
      // Nobody left or joined, on the server or as any page saw it; no page reloaded; the chat is there.
      expect(sfu.server.registry.get(roomId)).toBe(room);
      expect([...room.peers.keys()].sort()).toEqual([...ids].sort());
      expect(news.map((n) => n.length)).toEqual(newsBefore);
      expect(news.flat().filter((event) => event !== 'peerJoined')).toEqual([]);
      for (const [i, page] of pages.entries()) {
        expect(await page.evaluate(() => (window as unknown as { beforeCrash?: boolean }).beforeCrash)).toBe(true);
        expect(await peerIdOf(page)).toBe(ids[i]);
        await expect(page.getByTestId('tile')).toHaveCount(3);
        if (i !== 0) await page.getByTestId('chat-button').click();
        await expect(page.getByTestId('chat-message')).toHaveCount(1);
        await expect(page.getByTestId('chat-message')).toContainText('before the crash');
      }
      // Ben's microphone came back muted, for the server and for the others.
      await expect(ben.getByTestId('mic-button')).toHaveAttribute('aria-pressed', 'true');
      const benPeer = room.peers.get(ids[1]!)!;
      await expect.poll(() => benPeer.producerFor('microphone')?.paused).toBe(true);
      for (const page of [pages[0]!, pages[2]!]) {
        await expect(page.locator(`[data-testid=tile][data-peer-id="${ids[1]}"] [data-testid=muted-icon]`)).toHaveCount(1);
      }
      for (const peer of room.peers.values()) expect(peer.router.appData.workerPid).not.toBe(deadPid);
    } finally {
      await Promise.all(contexts.map((c) => c.close()));
    }
  });
});
