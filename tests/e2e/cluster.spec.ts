/**
 * Cluster mode with browsers: a real redis-server and three Roundtable node processes serving the
 * built client. Two people open one meeting through two different nodes and meet on one; when that
 * node is killed, their pages move to another node by themselves and decode each other again.
 */
import path from 'node:path';
import type { Page } from '@playwright/test';
import { ClusterNode } from '../helpers/cluster.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { expect, inboundSummary, joinByUrl, peerIdOf, test } from './fixtures.ts';

const LEASE_MS = 3_000;

/**
 * Resolves with the epoch ms when the page decodes camera video from a peer it was not decoding
 * before (`stalePeerIds`), or from the same peer on a new receiver (its frame count started over).
 * Runs in the page; see media-gap.ts for why the callbacks are inline.
 */
function watchNewVideo(page: Page, stalePeerIds: string[], timeoutMs: number): Promise<number | null> {
  return page.evaluate(
    async ({ stalePeerIds, timeoutMs }) => {
      const highest = new Map<string, number>();
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const stats = await window.roundtable?.stats();
        for (const s of stats?.inbound ?? []) {
          if (s.source !== 'camera' || s.framesDecoded <= 0) continue;
          const seen = highest.get(s.peerId) ?? 0;
          if (!stalePeerIds.includes(s.peerId) || s.framesDecoded < seen) return Date.now();
          highest.set(s.peerId, Math.max(seen, s.framesDecoded));
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return null;
    },
    { stalePeerIds, timeoutMs },
  );
}

test.describe('cluster: three nodes on one store', () => {
  let redis: RedisServer;
  let nodes: ClusterNode[] = [];
  test.beforeAll(async () => {
    redis = await startRedis();
    nodes = await Promise.all(
      ['node-a', 'node-b', 'node-c'].map((nodeId) =>
        ClusterNode.start({ nodeId, redisUrl: redis.url, leaseMs: LEASE_MS, keyPrefix: 'rt-e2e', staticDir: path.resolve('client/dist') }),
      ),
    );
  });
  test.afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await redis?.stop();
  });

  test('two browsers that open one room through two nodes meet on one node; kill -9 of that node, and they meet again on another', async ({ browser }) => {
    const roomId = 'e2e-cluster';
    const contexts = await Promise.all([0, 1].map(() => browser.newContext()));
    try {
      // Through two different nodes: placement sends at least one of them on, and they meet.
      const ada = await joinByUrl(contexts[0]!, nodes[1]!.url, roomId, 'Ada', { res: 180 });
      const ben = await joinByUrl(contexts[1]!, nodes[2]!.url, roomId, 'Ben', { res: 180 });
      const pages = [ada, ben];
      for (const page of pages) {
        await expect(page.getByTestId('tile')).toHaveCount(2);
        await expect.poll(() => inboundSummary(page), { timeout: 30_000 }).toMatchObject({ videoPeersDecoding: 1 });
      }
      const holders = (await Promise.all(nodes.map(async (n) => ((await n.leases()).includes(roomId) ? [n] : [])))).flat();
      expect(holders).toHaveLength(1);
      const owner = holders[0]!;
      const ids = await Promise.all(pages.map(peerIdOf));

      const comeBack = pages.map((page) => watchNewVideo(page, ids, 60_000));
      await ada.waitForTimeout(300);
      const killedAt = Date.now();
      await owner.kill();
      const backAt = await Promise.all(comeBack);
      const gaps = backAt.map((at) => (at === null ? null : at - killedAt));
      console.log(`cluster failover in browsers: ${owner.nodeId} killed (lease ${LEASE_MS} ms); video decoding again after Ada ${gaps[0] ?? 'never'} ms, Ben ${gaps[1] ?? 'never'} ms`);
      expect(gaps.every((gap) => gap !== null), 'both pages decode each other again').toBe(true);

      const newOwner = (await Promise.all(nodes.filter((n) => n !== owner).map(async (n) => ((await n.leases()).includes(roomId) ? [n] : [])))).flat();
      expect(newOwner).toHaveLength(1);
      for (const page of pages) {
        await expect(page.getByTestId('tile')).toHaveCount(2);
        await expect(page.getByTestId('call')).toHaveAttribute('data-status', 'joined');
        await expect.poll(() => inboundSummary(page), { timeout: 30_000 }).toMatchObject({ videoPeersDecoding: 1 });
      }
    } finally {
      await Promise.all(contexts.map((c) => c.close()));
    }
  });
});
