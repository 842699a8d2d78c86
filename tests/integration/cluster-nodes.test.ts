/**
 * Cluster mode end to end without browsers: a real redis-server and three Roundtable node processes
 * on loopback. Clients speak the signaling contract as the browser does, following WRONG_NODE
 * redirects. Covers placement and routing, redirect passes, room records travelling with the room,
 * failover after kill -9, self-fencing of a frozen owner, a store restart, and a store that is down.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeetingKeys, RequestPayload } from '../../shared/index.ts';
import { TestClient } from '../helpers/client.ts';
import { CLUSTER_SECRET, ClusterNode } from '../helpers/cluster.ts';
import { EntryPoint } from '../helpers/entry-point.ts';
import { type TestPeer, setUpPeer } from '../helpers/meeting.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { startTestServer } from '../helpers/server.ts';

const LEASE_MS = 3_000;

let redis: RedisServer;
let nodes: ClusterNode[] = [];

beforeAll(async () => {
  redis = await startRedis();
  nodes = await Promise.all(
    ['node-a', 'node-b', 'node-c'].map((nodeId) => ClusterNode.start({ nodeId, redisUrl: redis.url, leaseMs: LEASE_MS, keyPrefix: 'rt-nodes' })),
  );
}, 60_000);

afterAll(async () => {
  if (process.env.CLUSTER_TEST_LOGS) for (const node of nodes) console.log(`--- ${node.nodeId}\n${node.entry?.output.slice(-40).join('\n')}`);
  await Promise.all(nodes.map((node) => node.stop()));
  await redis?.stop();
});

const nodeAt = (url: string): ClusterNode => {
  const node = nodes.find((n) => n.url === url);
  if (!node) throw new Error(`no node at ${url}`);
  return node;
};

interface Placed extends TestPeer {
  /** The node the client ended up on, and how many redirects it followed. */
  node: ClusterNode;
  hops: number;
}

/**
 * Joins through `url` and follows WRONG_NODE redirects, as the browser client does. A redirect to a
 * node that does not answer (just killed: the others list it until its record expires) starts over
 * from `url` a moment later, as the browser's reconnection does.
 */
async function joinThrough(url: string, roomId: string, displayName: string, extra: Partial<RequestPayload<'join'>> = {}, publish = false): Promise<Placed> {
  const deadline = Date.now() + 4 * LEASE_MS;
  let target = url;
  let redirect: string | undefined;
  for (let hops = 0; Date.now() < deadline; ) {
    const client = await TestClient.connect(target, { timeoutMs: 2_000 }).catch(() => undefined);
    if (!client) {
      await sleep(250);
      [target, redirect] = [url, undefined];
      continue;
    }
    const reply = await client.send('join', { roomId, displayName, ...extra, ...(redirect ? { redirect } : {}) });
    if (reply.ok) return { ...(await setUpPeer(client, reply.data, { publish })), node: nodeAt(target), hops };
    client.close();
    if (reply.error.code !== 'WRONG_NODE' || !reply.error.redirect) throw new Error(`join refused: ${reply.error.code} ${reply.error.message}`);
    ({ url: target, token: redirect } = reply.error.redirect);
    hops += 1;
  }
  throw new Error(`no node took ${roomId} within ${4 * LEASE_MS} ms`);
}

/** A pass signed as a node would, with the cluster's secret unless told otherwise. */
function pass(claims: { room: string; to: string; expiresIn?: string | number; secret?: string; purpose?: string }): Promise<string> {
  return new SignJWT({ room: claims.room, purpose: claims.purpose ?? 'redirect' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('roundtable-cluster')
    .setAudience(claims.to)
    .setSubject('node-a')
    .setIssuedAt()
    .setExpirationTime(claims.expiresIn ?? '30s')
    .sign(new TextEncoder().encode(claims.secret ?? CLUSTER_SECRET));
}

async function refusal(url: string, payload: RequestPayload<'join'>): Promise<string> {
  const client = await TestClient.connect(url);
  try {
    const reply = await client.send('join', payload);
    return reply.ok ? 'joined' : reply.error.code;
  } finally {
    client.close();
  }
}

/** Which nodes hold a lease on the room right now (the frozen or dead ones do not answer). */
async function holders(roomId: string): Promise<string[]> {
  const held = await Promise.all(nodes.map(async (node) => ((await node.leases()).includes(roomId) ? [node.nodeId] : [])));
  return held.flat();
}

describe('cluster: placement and routing', () => {
  it('two clients that open one room through two different nodes end up in one meeting on one node', async () => {
    const first = await joinThrough(nodes[1]!.url, 'cl-same-room', 'Ana', {}, true);
    const second = await joinThrough(nodes[2]!.url, 'cl-same-room', 'Bert', {}, true);
    try {
      expect(second.node).toBe(first.node);
      expect(first.hops + second.hops).toBeGreaterThanOrEqual(1); // at least one of them was sent on
      expect(second.join.peers.map((p) => p.displayName)).toContain('Ana');
      await first.client.waitFor('peerJoined', (e) => e.peer.displayName === 'Bert');
      await first.client.ok('sendChat', { text: 'hello from the first' });
      await second.client.waitFor('consumerAdded', (e) => e.consumer.peerId === first.join.peerId);
      expect(await holders('cl-same-room')).toEqual([first.node.nodeId]);
      // The reply lists every live node, the serving one first: the client's failover list.
      expect(second.join.nodes?.[0]).toBe(second.node.url);
      expect([...(second.join.nodes ?? [])].sort()).toEqual(nodes.map((n) => n.url).sort());
    } finally {
      first.client.close();
      second.client.close();
    }
    // The last one out closes the room, and its lease is released at once.
    await expect.poll(() => holders('cl-same-room'), { timeout: 5_000 }).toEqual([]);
    // A chat ends with its meeting, as on one node: the next people in the room start with none.
    const later = await joinThrough(nodes[0]!.url, 'cl-same-room', 'Cleo');
    later.client.close();
    expect(later.join.chat).toEqual([]);
  });

  it('a burst of new rooms opened through one node is spread over all nodes, not sent to one', async () => {
    const placed: Placed[] = [];
    try {
      for (let i = 0; i < 30; i += 1) placed.push(await joinThrough(nodes[0]!.url, `cl-burst-${i}`, 'Bea'));
      const perNode = nodes.map((node) => placed.filter((p) => p.node === node).length);
      // Opened faster than heartbeats refresh the loads: without counting its own placements, the
      // entry node would send them all to whichever node looked lightest at the last beat.
      for (const count of perNode) expect(count).toBeGreaterThanOrEqual(6);
    } finally {
      for (const p of placed) p.client.close();
    }
  });

  it('a page served by one node may open signaling on another; a foreign origin still may not', async () => {
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const client = await TestClient.connect(b.url, { headers: { Origin: a.url } });
    client.close();
    await expect(TestClient.connect(b.url, { headers: { Origin: 'http://evil.example' } })).rejects.toMatchObject({ data: { code: 'ORIGIN_NOT_ALLOWED' } });
  });

  it('refuses forged, expired, misdirected and wrong-room passes with stable codes, and a single node refuses any pass', async () => {
    const roomId = 'cl-passes';
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const join = (redirect: string) => ({ roomId, displayName: 'Pat', redirect });
    expect(await refusal(b.url, join(await pass({ room: roomId, to: b.nodeId, secret: 'not-the-cluster-secret-000000000000' })))).toBe('INVALID_REDIRECT');
    expect(await refusal(b.url, join(await pass({ room: roomId, to: b.nodeId, expiresIn: Math.floor(Date.now() / 1000) - 60 })))).toBe('REDIRECT_EXPIRED');
    expect(await refusal(b.url, join(await pass({ room: roomId, to: a.nodeId })))).toBe('INVALID_REDIRECT');
    expect(await refusal(b.url, join(await pass({ room: 'another-room', to: b.nodeId })))).toBe('INVALID_REDIRECT');
    expect(await refusal(b.url, join('not.a.jwt'))).toBe('INVALID_REDIRECT');
    // A node's own pass for an edge link is no pass for a client.
    expect(await refusal(b.url, join(await pass({ room: roomId, to: b.nodeId, purpose: 'edge' })))).toBe('INVALID_REDIRECT');
    expect(await holders(roomId)).toEqual([]); // a refused pass claims nothing
    expect(await refusal(b.url, join(await pass({ room: roomId, to: b.nodeId })))).toBe('joined'); // the control: a good pass

    const single = await startTestServer();
    try {
      expect(await refusal(single.url, join(await pass({ room: roomId, to: b.nodeId })))).toBe('INVALID_REDIRECT');
    } finally {
      await single.close();
    }
  });
});

describe('cluster: webinar audiences on edge nodes', { timeout: 60_000 }, () => {
  it('viewers who arrive at other nodes are served there as edges: one pipe per edge, every viewer gets the stage', async () => {
    const creator = await TestClient.connect(nodes[0]!.url);
    const webinar = await creator.ok('createWebinar', {});
    creator.close();
    const host = await joinThrough(nodes[0]!.url, webinar.roomId, 'Hosta', { key: webinar.hostKey }, true);
    expect(host.join.role).toBe('host');
    const origin = host.node;
    const edges = nodes.filter((n) => n !== origin);
    const viewers: Placed[] = [];
    try {
      // Two viewers through each other node: each is served where it arrived, as an edge.
      for (const edge of edges) {
        for (const name of ['V1', 'V2']) viewers.push(await joinThrough(edge.url, webinar.roomId, `${name}-${edge.nodeId}`, { key: webinar.audienceKey }));
      }
      for (const viewer of viewers) {
        expect(viewer.join.role).toBe('viewer');
        expect(viewer.hops).toBe(0);
        expect(edges).toContain(viewer.node);
        expect(viewer.join.peers.map((p) => p.id)).toContain(host.join.peerId); // the stage, as the origin has it
        const sources = new Set<string>();
        for (const producerId of [host.producers.audio!, host.producers.video!]) {
          const added = await viewer.client.waitFor('consumerAdded', (e) => e.consumer.producerId === producerId, 10_000);
          expect(added.consumer.peerId).toBe(host.join.peerId);
          sources.add(added.consumer.source);
        }
        expect([...sources].sort()).toEqual(['camera', 'microphone']);
      }
      // Server state: the origin pipes to each edge once; each edge has the two producers once.
      const originState = (await origin.health()).cluster!;
      expect([...(originState.edges[webinar.roomId] ?? [])].sort()).toEqual(edges.map((e) => e.nodeId).sort());
      for (const edge of edges) {
        const state = (await edge.health()).cluster as { edgeRooms: Record<string, { origin: string; viewers: number; pipedProducers: number }> };
        expect(state.edgeRooms[webinar.roomId]).toEqual({ origin: origin.nodeId, viewers: 2, pipedProducers: 2 });
      }
      // One chat and one audience for the whole webinar, across the nodes.
      const fromEdge = await viewers[0]!.client.ok('sendChat', { text: 'a question from an edge' });
      const fromHost = await host.client.ok('sendChat', { text: 'the answer from the stage' });
      await host.client.waitFor('chatMessage', (m) => m.id === fromEdge.id, 10_000);
      for (const viewer of viewers.slice(1)) await viewer.client.waitFor('chatMessage', (m) => m.id === fromEdge.id, 10_000);
      for (const viewer of viewers) await viewer.client.waitFor('chatMessage', (m) => m.id === fromHost.id, 10_000);
      expect(viewers[0]!.client.events('chatMessage').filter((m) => m.id === fromEdge.id)).toEqual([]); // not echoed back
      await host.client.waitFor('audienceCount', (e) => e.count === 4, 10_000);
      for (const viewer of viewers) await viewer.client.waitFor('audienceCount', (e) => e.count === 4, 10_000);

      // The stage changes reach the edges: the host pauses the camera, then leaves the stage's media.
      await host.client.ok('setProducerPaused', { producerId: host.producers.video!, paused: true });
      for (const viewer of viewers) await viewer.client.waitFor('producerPaused', (e) => e.producerId === host.producers.video && e.paused, 10_000);
      await host.client.ok('closeProducer', { producerId: host.producers.audio! });
      for (const viewer of viewers) await viewer.client.waitFor('consumerClosed', (e) => e.producerId === host.producers.audio, 10_000);
      // A host link at an edge goes to the origin: the stage is only there.
      const second = await joinThrough(edges[0]!.url, webinar.roomId, 'Cohost', { key: webinar.hostKey });
      expect(second.node).toBe(origin);
      expect(second.hops).toBe(1);
      second.client.close();
    } finally {
      for (const viewer of viewers) viewer.client.close();
      host.client.close();
    }
    // The last viewer gone, each edge drops its link and its room.
    for (const edge of edges) await expect.poll(async () => ((await edge.health()).cluster as { edgeRooms: object }).edgeRooms, { timeout: 5_000 }).toEqual({});
  });
});

describe('cluster: a room survives its node', { timeout: 60_000 }, () => {
  it('kill -9 of the owner: another node takes the room within the lease time, with its host link and lock', async () => {
    // Created on one node, served wherever placement puts it: the record travels through the store.
    const creator = await TestClient.connect(nodes[2]!.url);
    const meeting: MeetingKeys = await creator.ok('createMeeting', {});
    creator.close();
    const host = await joinThrough(nodes[0]!.url, meeting.roomId, 'Hedy', { key: meeting.hostKey }, true);
    expect(host.join.role).toBe('host');
    const guest = await joinThrough(nodes[1]!.url, meeting.roomId, 'Gil', {}, true);
    expect(guest.node).toBe(host.node);
    await host.client.ok('setRoomSettings', { locked: true });
    await guest.client.ok('sendChat', { text: 'said before the crash' });
    expect(await refusal(host.node.url, { roomId: meeting.roomId, displayName: 'Late' })).toBe('ROOM_LOCKED');

    const owner = host.node;
    const survivors = nodes.filter((n) => n !== owner);
    const killedAt = Date.now();
    await owner.kill();
    // As the browser does: its connection dropped, it rejoins through another live node.
    const hostAgain = await joinThrough(survivors[0]!.url, meeting.roomId, 'Hedy', {
      key: meeting.hostKey,
      resume: { peerId: host.join.peerId, token: host.join.resumeToken, transportIds: [] },
    }, true);
    const gapMs = Date.now() - killedAt;
    // A page the dead node served must still reach the others (its origin is the dead node's URL).
    const orphan = await TestClient.connect(survivors[1]!.url, { headers: { Origin: owner.url } });
    orphan.close();
    console.log(`cluster failover: ${owner.nodeId} killed; the room was served again by ${hostAgain.node.nodeId} after ${gapMs} ms (lease ${LEASE_MS} ms)`);
    try {
      expect(survivors).toContain(hostAgain.node);
      expect(hostAgain.join).toMatchObject({ role: 'host', peerId: host.join.peerId, roomSettings: { locked: true } });
      expect(hostAgain.join.chat.map((m) => m.text)).toEqual(['said before the crash']);
      expect(gapMs).toBeLessThan(LEASE_MS + 5_000);
      expect(await holders(meeting.roomId)).toEqual([hostAgain.node.nodeId]);
      // The lock came along: a newcomer is still refused, through any node.
      const refused = await TestClient.connect(survivors[1]!.url);
      const reply = await refused.send('join', { roomId: meeting.roomId, displayName: 'Late' });
      refused.close();
      const code = reply.ok ? 'joined' : reply.error.code;
      expect(['ROOM_LOCKED', 'WRONG_NODE']).toContain(code);
      if (code === 'WRONG_NODE') expect(await refusal(hostAgain.node.url, { roomId: meeting.roomId, displayName: 'Late' })).toBe('ROOM_LOCKED');
    } finally {
      hostAgain.client.close();
      guest.client.close();
      await owner.restart();
    }
  });

  it('a frozen owner (SIGSTOP past its lease) loses the room to another node and, thawed, stops serving it', async () => {
    const roomId = 'cl-frozen';
    const first = await joinThrough(nodes[0]!.url, roomId, 'Fay', {}, true);
    const owner = first.node;
    const other = nodes.find((n) => n !== owner)!;
    owner.signal('SIGSTOP');
    let second: Placed | undefined;
    try {
      second = await joinThrough(other.url, roomId, 'Sol', {}, true);
      expect(second.node).not.toBe(owner);
      expect(await holders(roomId)).toEqual([second.node.nodeId]);
    } finally {
      owner.signal('SIGCONT');
    }
    try {
      // Thawed, the old owner's first act is to drop the room: its client is told to move.
      expect(await first.client.waitFor('roomClosed', () => true, 10_000)).toEqual({ reason: 'moved' });
      // From its first answer on, it never claims the room again; the new owner keeps it.
      for (let i = 0; i < 10; i += 1) {
        expect(await holders(roomId)).toEqual([second.node.nodeId]);
        await sleep(100);
      }
    } finally {
      first.client.close();
      second.client.close();
    }
  });

  it('restarting the store mid-meeting ends nothing: the owner keeps the room and others still route to it', async () => {
    const roomId = 'cl-store-restart';
    const first = await joinThrough(nodes[1]!.url, roomId, 'Rae', {}, true);
    try {
      await redis.restart({ keepData: false, downtimeMs: 500 });
      await sleep(LEASE_MS); // a few renewals and heartbeats against the new, empty store
      expect(first.client.events('roomClosed')).toEqual([]);
      expect(first.client.socket.connected).toBe(true);
      expect(await holders(roomId)).toEqual([first.node.nodeId]);
      const second = await joinThrough(nodes.find((n) => n !== first.node)!.url, roomId, 'Ray');
      expect(second.node).toBe(first.node);
      second.client.close();
    } finally {
      first.client.close();
    }
  });
});

describe('cluster: a store that goes away', { timeout: 60_000 }, () => {
  it('down for longer than the lease: nodes fence their rooms and tell the clients, stay up, and serve again when it is back', async () => {
    const roomId = 'cl-store-down';
    const first = await joinThrough(nodes[2]!.url, roomId, 'Dot', {}, true);
    const owner = first.node;
    await redis.restart({ keepData: false, downtimeMs: 2 * LEASE_MS });
    // The owner could not renew: it stopped serving the room and said so, rather than serve it unfenced.
    expect(await first.client.waitFor('roomClosed', () => true, 10_000)).toEqual({ reason: 'moved' });
    first.client.close();
    // Every node is still alive and answers; a join works again through any of them.
    for (const node of nodes) expect((await node.health()).cluster?.nodeId).toBe(node.nodeId);
    await expect.poll(async () => (await joinThrough(nodes[0]!.url, roomId, 'Dot').then((p) => (p.client.close(), 'joined'), (e: Error) => e.message)), { timeout: 20_000 }).toBe('joined');
    expect(owner.entry?.output.join('\n')).not.toMatch(/uncaught|unhandled/i);
  });
});

describe('cluster: the store at startup', () => {
  // Made in beforeAll, not at collection: a filtered run (-t) skips this block and its afterAll.
  let dataDir = '';
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'rt-node-refused-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('a node whose store is down fails fast, naming the key', async () => {
    const down = await startRedis();
    const url = down.url;
    await down.stop();
    const entry = new EntryPoint(dataDir, {
      env: {
        ROUNDTABLE_CLUSTER_REDIS_URL: url,
        ROUNDTABLE_CLUSTER_PUBLIC_URL: 'http://127.0.0.1:1',
        ROUNDTABLE_CLUSTER_SECRET: CLUSTER_SECRET,
        ROUNDTABLE_CLUSTER_CONNECT_TIMEOUT_MS: '3000',
      },
    });
    expect(await entry.exited).toBe(1);
    const output = entry.output.join('\n');
    expect(output).toContain('cannot reach the cluster store');
    expect(output).toContain('cluster.redisUrl');
    expect(output).not.toMatch(/Roundtable is ready/);
  });

  it('cluster mode without its secret or public URL is a configuration error', async () => {
    const entry = new EntryPoint(dataDir, { env: { ROUNDTABLE_CLUSTER_REDIS_URL: redis.url } });
    expect(await entry.exited).toBe(2);
    const output = entry.output.join('\n');
    expect(output).toContain('cluster.secret');
    expect(output).toContain('cluster.publicUrl');
  });
});

