/**
 * Cluster mode with browsers: a real redis-server and three Roundtable node processes serving the
 * built client. Two people open one meeting through two different nodes and meet on one; when that
 * node is killed, their pages move to another node by themselves and decode each other again.
 */
import path from 'node:path';
import type { Page } from '@playwright/test';
import { ClusterNode } from '../helpers/cluster.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { TestClient } from '../helpers/client.ts';
import { expect, framesFrom, inboundSummary, joinByUrl, peerIdOf, test } from './fixtures.ts';

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

  test('a webinar with its host on one node and viewers arriving at the two others: every viewer decodes the speaker, over one pipe per edge', async ({ browser }) => {
    const creator = await TestClient.connect(nodes[0]!.url);
    const webinar = await creator.ok('createWebinar', {});
    creator.close();
    const contexts = await Promise.all([0, 1, 2, 3, 4].map(() => browser.newContext()));
    try {
      const host = await joinByUrl(contexts[0]!, nodes[0]!.url, webinar.roomId, 'Hana', { res: 180, key: webinar.hostKey });
      const hostId = await peerIdOf(host);
      const origin = (await Promise.all(nodes.map(async (n) => ((await n.leases()).includes(webinar.roomId) ? [n] : [])))).flat();
      expect(origin).toHaveLength(1);
      const edges = nodes.filter((n) => n !== origin[0]);
      const viewers: Page[] = [];
      for (const [i, edge] of [edges[0]!, edges[0]!, edges[1]!, edges[1]!].entries()) {
        const page = await contexts[i + 1]!.newPage();
        await page.goto(`${edge.url}/room/${webinar.roomId}?key=${webinar.audienceKey}&as=viewer&name=V${i}&join=1`);
        await expect(page.getByTestId('call')).toHaveAttribute('data-status', 'joined');
        viewers.push(page);
      }
      for (const viewer of viewers) {
        await expect(viewer.getByTestId('tile')).toHaveCount(1); // the stage: just the host
        await expect.poll(() => framesFrom(viewer, hostId, 'camera'), { timeout: 30_000 }).toBeGreaterThan(0);
        const before = await framesFrom(viewer, hostId, 'camera');
        await expect.poll(() => framesFrom(viewer, hostId, 'camera'), { timeout: 10_000 }).toBeGreaterThan(before + 10);
      }
      // Two viewers per edge, one pipe per edge: the origin links to each edge node once.
      const originState = (await origin[0]!.health()).cluster!;
      expect([...(originState.edges[webinar.roomId] ?? [])].sort()).toEqual(edges.map((e) => e.nodeId).sort());
      for (const edge of edges) {
        const state = (await edge.health()).cluster as { edgeRooms: Record<string, { viewers: number; pipedProducers: number }> };
        expect(state.edgeRooms[webinar.roomId]).toMatchObject({ viewers: 2, pipedProducers: 2 });
      }
    } finally {
      await Promise.all(contexts.map((c) => c.close()));
    }
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
