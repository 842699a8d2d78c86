import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { type TestPeer, joinPeer } from '../helpers/meeting.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

let t: TestServer;
let n = 0;
const nextRoom = () => `large-${++n}`;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

async function videoConsumerOf(peerClient: TestPeer, producerId: string) {
  return peerClient.client.waitFor('consumerAdded', (e) => e.consumer.producerId === producerId);
}

describe('receiving only what is shown', () => {
  it('pauses hidden videos and sets the layer a tile needs, on the sender\'s own consumers only', async () => {
    const roomId = nextRoom();
    const alice = await joinPeer(t.url, roomId, 'Alice', { publish: true });
    const bob = await joinPeer(t.url, roomId, 'Bob');
    const { consumer: info } = await videoConsumerOf(bob, alice.producers.video!);
    const consumer = t.server.registry.get(roomId)!.peers.get(bob.join.peerId)!.consumers.get(info.id)!;

    await bob.client.ok('updateConsumers', { updates: [{ consumerId: info.id, paused: false, spatialLayer: 0, temporalLayer: 2, priority: 10 }] });
    expect(consumer.paused).toBe(false);
    expect(consumer.preferredLayers).toEqual({ spatialLayer: 0, temporalLayer: 2 });
    expect(consumer.priority).toBe(10);

    await bob.client.ok('updateConsumers', { updates: [{ consumerId: info.id, paused: true }] });
    expect(consumer.paused).toBe(true);

    const refused = await alice.client.send('updateConsumers', { updates: [{ consumerId: info.id, paused: false }] });
    expect(refused).toMatchObject({ ok: false, error: { code: 'CONSUMER_NOT_FOUND' } });
    expect(consumer.paused).toBe(true);
    alice.client.close();
    bob.client.close();
  });

  it('never pauses audio through view updates, and applies nothing from a batch that tries', async () => {
    const roomId = nextRoom();
    const alice = await joinPeer(t.url, roomId, 'Alice', { publish: true });
    const bob = await joinPeer(t.url, roomId, 'Bob');
    const video = (await videoConsumerOf(bob, alice.producers.video!)).consumer;
    const audio = (await videoConsumerOf(bob, alice.producers.audio!)).consumer;
    await bob.client.ok('resumeConsumer', { consumerId: video.id });
    const reply = await bob.client.send('updateConsumers', {
      updates: [
        { consumerId: video.id, paused: true },
        { consumerId: audio.id, paused: true },
      ],
    });
    expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
    const consumers = t.server.registry.get(roomId)!.peers.get(bob.join.peerId)!.consumers;
    expect(consumers.get(video.id)!.paused).toBe(false);
    alice.client.close();
    bob.client.close();
  });
});

describe('dynacast', () => {
  it('tells the publisher the highest layer anyone watches, and -1 when nobody does', async () => {
    const roomId = nextRoom();
    const alice = await joinPeer(t.url, roomId, 'Alice', { publish: true });
    const bob = await joinPeer(t.url, roomId, 'Bob');
    const bobsVideo = (await videoConsumerOf(bob, alice.producers.video!)).consumer;
    const layers = () => alice.client.events('producerLayers').filter((e) => e.producerId === alice.producers.video);

    // Bob's consumer waits paused for his client: nobody watches yet.
    await alice.client.waitFor('producerLayers', (e) => e.maxSpatialLayer === -1);
    await bob.client.ok('resumeConsumer', { consumerId: bobsVideo.id });
    await alice.client.waitFor('producerLayers', (e) => e.maxSpatialLayer === 2);

    await bob.client.ok('updateConsumers', { updates: [{ consumerId: bobsVideo.id, paused: false, spatialLayer: 0 }] });
    await expect.poll(() => layers().at(-1)?.maxSpatialLayer).toBe(0);

    const carol = await joinPeer(t.url, roomId, 'Carol');
    const carolsVideo = (await videoConsumerOf(carol, alice.producers.video!)).consumer;
    await carol.client.ok('updateConsumers', { updates: [{ consumerId: carolsVideo.id, paused: false, spatialLayer: 1 }] });
    await expect.poll(() => layers().at(-1)?.maxSpatialLayer).toBe(1);

    await carol.client.ok('updateConsumers', { updates: [{ consumerId: carolsVideo.id, paused: true }] });
    await bob.client.ok('updateConsumers', { updates: [{ consumerId: bobsVideo.id, paused: true }] });
    await expect.poll(() => layers().at(-1)?.maxSpatialLayer).toBe(-1);
    // Only changes are sent: no repeats of the same value in a row.
    const values = layers().map((e) => e.maxSpatialLayer);
    expect(values.every((v, i) => i === 0 || v !== values[i - 1])).toBe(true);
    for (const p of [alice, bob, carol]) p.client.close();
  });
});

describe('one room across workers', () => {
  it('places newcomers on another worker past the consumer budget and pipes media both ways', async () => {
    const big = await startTestServer({ workers: { count: 2, consumerBudget: 4 } });
    try {
      const roomId = 'spanning';
      const peers: TestPeer[] = [];
      for (const name of ['A', 'B', 'C', 'D']) peers.push(await joinPeer(big.url, roomId, name, { publish: true }));
      const room = big.server.registry.get(roomId)!;
      expect(room.routers.all()).toHaveLength(2);
      const workerOf = (i: number) => room.peers.get(peers[i]!.join.peerId)!.router.appData.workerIndex;
      expect(workerOf(0)).toBe(workerOf(1));
      expect(workerOf(2)).not.toBe(workerOf(0));

      // Everyone receives everyone's audio and video, whichever worker each side is on.
      for (const receiver of peers) {
        for (const sender of peers) {
          if (receiver === sender) continue;
          for (const producerId of [sender.producers.audio!, sender.producers.video!]) {
            await receiver.client.waitFor('consumerAdded', (e) => e.consumer.producerId === producerId);
          }
        }
      }
      const loads = big.server.pool.loads();
      expect(loads.every((load) => load.consumers > 0)).toBe(true);
      expect(loads.every((load) => load.routers === 1)).toBe(true);
      for (const p of peers) p.client.close();
      await expect.poll(() => big.server.pool.loads().map((l) => l.routers)).toEqual([0, 0]);
    } finally {
      await big.close();
    }
  });

  it('simultaneous joins past the budget share one router on the other worker, and none outlives the room', async () => {
    // Found by bench:soak: each simultaneous join made its own router on the second worker, and all
    // but the last were never closed.
    const big = await startTestServer({ workers: { count: 2, consumerBudget: 4 } });
    try {
      const roomId = 'spanning-at-once';
      const first = [await joinPeer(big.url, roomId, 'A', { publish: true }), await joinPeer(big.url, roomId, 'B', { publish: true })];
      await expect.poll(() => big.server.pool.consumersOn(0)).toBeGreaterThanOrEqual(4); // the first worker is at its budget
      // Connected first, then joining in the same instant, so their routers are being made together.
      const rest = await Promise.all(['C', 'D', 'E', 'F'].map(() => TestClient.connect(big.url)));
      const replies = await Promise.all(rest.map((client, i) => client.send('join', { roomId, displayName: `Late ${i}` })));
      expect(replies.every((reply) => reply.ok)).toBe(true);
      const dumps = async () => (await big.server.pool.dump()).map((dump) => dump.routerIds.length);
      expect(await dumps()).toEqual([1, 1]);
      expect(big.server.registry.get(roomId)!.routers.all()).toHaveLength(2);
      for (const client of [...first.map((p) => p.client), ...rest]) client.close();
      await expect.poll(dumps).toEqual([0, 0]);
    } finally {
      await big.close();
    }
  });
});
