import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { joinPeer } from '../helpers/meeting.ts';
import { type TestServer, startTestServer, workerCounts } from '../helpers/server.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

describe('room lifecycle against a real mediasoup worker', () => {
  it('announces peers and routes every producer to every other ready peer, paused until resumed', async () => {
    const alice = await joinPeer(t.url, 'lifecycle-1', 'Alice', { publish: true });
    const bob = await joinPeer(t.url, 'lifecycle-1', 'Bob');

    expect(bob.join.peers.map((p) => p.displayName)).toEqual(['Alice']);
    expect(bob.join.peers[0]!.producers.map((p) => p.source).sort()).toEqual(['camera', 'microphone']);
    expect((await alice.client.waitFor('peerJoined')).peer.displayName).toBe('Bob');

    // Bob was subscribed to both of Alice's producers when he became ready.
    await bob.client.waitFor('consumerAdded', (e) => e.consumer.source === 'camera');
    await bob.client.waitFor('consumerAdded', (e) => e.consumer.source === 'microphone');
    const room = t.server.registry.get('lifecycle-1')!;
    const bobPeer = room.peers.get(bob.join.peerId)!;
    const videoConsumer = [...bobPeer.consumers.values()].find((c) => c.kind === 'video')!;
    expect(videoConsumer.paused).toBe(true);
    expect(videoConsumer.type).toBe('simulcast');

    await bob.client.ok('resumeConsumer', { consumerId: videoConsumer.id });
    expect(videoConsumer.paused).toBe(false);

    // A producer published later reaches peers that are already in the room.
    const carol = await joinPeer(t.url, 'lifecycle-1', 'Carol', { publish: true });
    await bob.client.waitFor('consumerAdded', (e) => e.consumer.peerId === carol.join.peerId && e.consumer.kind === 'video');
    await alice.client.waitFor('consumerAdded', (e) => e.consumer.peerId === carol.join.peerId && e.consumer.kind === 'audio');

    // Closing a producer closes its consumers and tells everyone.
    await carol.client.ok('closeProducer', { producerId: carol.producers.video! });
    await bob.client.waitFor('producerClosed', (e) => e.producerId === carol.producers.video);
    await bob.client.waitFor('consumerClosed', (e) => e.producerId === carol.producers.video);
    expect([...bobPeer.consumers.values()].some((c) => c.producerId === carol.producers.video)).toBe(false);

    for (const peer of [alice, bob, carol]) peer.client.close();
  });

  it('notifies departures, closes the empty room, and leaves no transports on the worker', async () => {
    await expect.poll(() => t.server.registry.size).toBe(0); // earlier tests' rooms are gone
    const before = await workerCounts(t.server);
    const alice = await joinPeer(t.url, 'lifecycle-2', 'Alice', { publish: true });
    const bob = await joinPeer(t.url, 'lifecycle-2', 'Bob', { publish: true });
    await alice.client.waitFor('consumerAdded', (e) => e.consumer.producerId === bob.producers.video);
    const during = await workerCounts(t.server);
    expect(during.transports - before.transports).toBe(4);
    expect(during.consumers - before.consumers).toBe(4);

    await alice.client.ok('leave', {});
    await bob.client.waitFor('peerLeft', (e) => e.peerId === alice.join.peerId);
    expect(t.server.registry.get('lifecycle-2')!.peers.size).toBe(1);
    // Alice's media is gone at once, while the room lives on: only Bob's transports and producers remain.
    await expect.poll(() => workerCounts(t.server)).toEqual({
      ...before,
      routers: before.routers + 1,
      dumpedRouters: before.dumpedRouters + 1,
      transports: before.transports + 2,
      producers: before.producers + 2,
    });

    bob.client.close(); // a dropped socket counts as leaving
    await expect.poll(() => t.server.registry.get('lifecycle-2')).toBeUndefined();
    await expect.poll(() => workerCounts(t.server)).toEqual(before);
  });

  it('creates exactly one room when many peers join a new id at the same moment', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => TestClient.connect(t.url)));
    const routersBefore = (await workerCounts(t.server)).routers;
    const replies = await Promise.all(clients.map((c, i) => c.ok('join', { roomId: 'stampede', displayName: `P${i}` })));
    expect(new Set(replies.map((r) => r.roomId)).size).toBe(1);
    expect(t.server.registry.get('stampede')!.peers.size).toBe(8);
    expect((await workerCounts(t.server)).routers - routersBefore).toBe(1);
    for (const c of clients) c.close();
    await expect.poll(() => t.server.registry.get('stampede')).toBeUndefined();
  });

  it('refuses a join beyond the room capacity and keeps the room intact', async () => {
    const small = await startTestServer({ rooms: { maxPeersPerRoom: 2 } });
    try {
      const a = await joinPeer(small.url, 'tiny', 'A');
      const b = await joinPeer(small.url, 'tiny', 'B');
      const c = await TestClient.connect(small.url);
      const reply = await c.send('join', { roomId: 'tiny', displayName: 'C' });
      expect(reply).toMatchObject({ ok: false, error: { code: 'ROOM_FULL' } });
      expect(small.server.registry.get('tiny')!.peers.size).toBe(2);
      for (const peer of [a, b]) peer.client.close();
      c.close();
    } finally {
      await small.close();
    }
  });
});
