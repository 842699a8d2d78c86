import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { type TestPeer, joinPeer } from '../helpers/meeting.ts';
import { opusParameters, vp8SimulcastParameters } from '../helpers/rtp-fixtures.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';
import type { Room } from '../../sfu/src/rooms/Room.ts';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** SIGKILLs a worker process and waits until the pool has noticed (its routers are closed). */
async function killWorker(server: TestServer['server'], pid: number): Promise<void> {
  const dead = server.pool.workers().find((worker) => worker.pid === pid)!;
  expect(dead).toBeDefined();
  process.kill(pid, 'SIGKILL');
  await expect.poll(() => dead.closed, { timeout: 5_000 }).toBe(true);
}

/** The pool is whole again: `count` live workers, none of them the dead one. */
async function expectPoolWhole(server: TestServer['server'], count: number, deadPid: number): Promise<void> {
  await expect.poll(() => server.pool.workers().length, { timeout: 10_000 }).toBe(count);
  const pids = server.pool.workers().map((worker) => worker.pid);
  expect(pids).not.toContain(deadPid);
  expect(server.pool.workers().every((worker) => !worker.closed && !worker.died)).toBe(true);
  expect(server.pool.loads().map((load) => load.pid)).toEqual(pids);
}

/** Nothing of the room points at the dead worker, and everything it holds exists in a live worker. */
async function expectNothingOnDeadWorker(server: TestServer['server'], room: Room, deadPid: number): Promise<void> {
  const routers = room.routers.all();
  expect(routers).toContain(room.routers.main);
  for (const router of routers) {
    expect(router.closed).toBe(false);
    expect(router.appData.workerPid).not.toBe(deadPid);
  }
  const liveRouterIds = new Set((await server.pool.dump()).flatMap((dump) => dump.routerIds));
  for (const router of routers) expect(liveRouterIds.has(router.id)).toBe(true);
  for (const peer of room.peers.values()) {
    expect(peer.router.closed).toBe(false);
    expect(peer.router.appData.workerPid).not.toBe(deadPid);
    expect(routers).toContain(peer.router);
    const dumped = (await peer.router.dump()) as { transportIds: string[] };
    for (const transport of peer.transports.values()) {
      expect(transport.closed).toBe(false);
      expect(dumped.transportIds).toContain(transport.id);
    }
    for (const producer of peer.producers.values()) expect(producer.closed).toBe(false);
    for (const consumer of peer.consumers.values()) expect(consumer.closed).toBe(false);
  }
}

/** What a client does on `mediaReset`: asks for its own place again on the same connection, then rebuilds. */
async function rebuild(peer: TestPeer, roomId: string, options: { publish: boolean }): Promise<TestPeer> {
  const join = await peer.client.ok('join', {
    roomId,
    displayName: peer.join.self.displayName,
    resume: { peerId: peer.join.peerId, token: peer.join.resumeToken, transportIds: [peer.recvTransportId, peer.sendTransportId].filter((id): id is string => id !== undefined) },
  });
  const rebuilt: TestPeer = { client: peer.client, join, producers: {} };
  rebuilt.recvTransportId = (await peer.client.ok('createTransport', { direction: 'recv' })).id;
  await peer.client.ok('ready', { rtpCapabilities: join.routerRtpCapabilities });
  if (options.publish) {
    rebuilt.sendTransportId = (await peer.client.ok('createTransport', { direction: 'send' })).id;
    const produce = async (kind: 'audio' | 'video', paused: boolean) =>
      (
        await peer.client.ok('produce', {
          transportId: rebuilt.sendTransportId!,
          kind,
          source: kind === 'audio' ? 'microphone' : 'camera',
          rtpParameters: kind === 'audio' ? opusParameters('1', randomInt(1e6, 1e9)) : vp8SimulcastParameters('0'),
          paused,
        })
      ).producerId;
    rebuilt.producers.audio = await produce('audio', true); // it was muted: it comes back muted
    rebuilt.producers.video = await produce('video', false);
  }
  return rebuilt;
}

/** Nobody left, was replaced or saw the room close, and nobody was seen joining since `joinsSeen()` was taken. */
function expectNobodyLeft(peers: TestPeer[], joinsSeenBefore: number[]): void {
  for (const peer of peers) {
    expect(peer.client.events('peerLeft')).toEqual([]);
    expect(peer.client.events('roomClosed')).toEqual([]);
    expect(peer.client.events('sessionReplaced')).toEqual([]);
  }
  expect(joinsSeen(peers)).toEqual(joinsSeenBefore);
}

function joinsSeen(peers: TestPeer[]): number[] {
  return peers.map((peer) => peer.client.events('peerJoined').length);
}

describe('a worker dies under a meeting', () => {
  it('the pool replaces it; the room moves to a live worker; nobody leaves; media comes back when clients rebuild', async () => {
    t = await startTestServer({ workers: { count: 2 } });
    const roomId = 'worker-death';
    const ann = await joinPeer(t.url, roomId, 'Ann', { publish: true });
    const ben = await joinPeer(t.url, roomId, 'Ben', { publish: true });
    const cy = await joinPeer(t.url, roomId, 'Cy', { publish: true });
    await ann.client.ok('setProducerPaused', { producerId: ann.producers.audio!, paused: true });
    await ben.client.ok('setHandRaised', { raised: true });
    await cy.client.ok('sendChat', { text: 'before the crash' });
    await ann.client.waitFor('consumerAdded', (e) => e.consumer.producerId === cy.producers.video);
    const room = t.server.registry.get(roomId)!;
    const ids = [ann, ben, cy].map((p) => p.join.peerId).sort();
    const deadPid = room.routers.main.appData.workerPid;
    expect([...room.peers.values()].every((peer) => peer.router === room.routers.main)).toBe(true);

    const joins = joinsSeen([ann, ben, cy]);
    await killWorker(t.server, deadPid);
    for (const peer of [ann, ben, cy]) await peer.client.waitFor('mediaReset');
    await room.recovery.settled();
    await expectPoolWhole(t.server, 2, deadPid);
    expect(t.server.registry.get(roomId)).toBe(room);
    expect(room.closed).toBe(false);
    expect([...room.peers.keys()].sort()).toEqual(ids);
    await expectNothingOnDeadWorker(t.server, room, deadPid);
    for (const peer of room.peers.values()) expect(peer.transports.size + peer.producers.size + peer.consumers.size).toBe(0);
    // Speaker detection runs again on the new main router (its two RTP observers).
    expect(((await room.routers.main.dump()) as { rtpObserverIds: string[] }).rtpObserverIds).toHaveLength(2);

    // Someone else's credentials, or a wrong token, on a member's connection: refused as before.
    expect(await ann.client.send('join', { roomId, displayName: 'Ann', resume: { peerId: ann.join.peerId, token: 'x'.repeat(32), transportIds: [] } })).toMatchObject({
      ok: false,
      error: { code: 'ALREADY_JOINED' },
    });
    expect(await ann.client.send('join', { roomId, displayName: 'Ann', resume: { peerId: ben.join.peerId, token: ben.join.resumeToken, transportIds: [] } })).toMatchObject({
      ok: false,
      error: { code: 'ALREADY_JOINED' },
    });

    const [ann2, ben2, cy2] = await Promise.all([ann, ben, cy].map((peer) => rebuild(peer, roomId, { publish: true })));
    for (const rebuilt of [ann2!, ben2!, cy2!]) {
      expect(rebuilt.join).toMatchObject({ resumed: true, transportIds: [], consumers: [] });
      expect(rebuilt.join.chat.map((m) => m.text)).toEqual(['before the crash']);
      expect(rebuilt.join.peers.map((p) => p.id).sort()).toEqual(ids.filter((id) => id !== rebuilt.join.peerId));
    }
    expect(ann2!.join.peerId).toBe(ann.join.peerId);
    expect(ann2!.join.peers.find((p) => p.id === ben.join.peerId)?.handRaisedAt).not.toBeNull();
    // Everyone receives everyone's new producers again (the muted microphone arrives muted).
    for (const [receiver, sender] of [[ann, ben2], [ann, cy2], [ben, ann2], [ben, cy2], [cy, ann2], [cy, ben2]] as const) {
      await receiver.client.waitFor('producerAdded', (e) => e.producer.id === sender!.producers.video);
      await receiver.client.waitFor('consumerAdded', (e) => e.consumer.producerId === sender!.producers.video);
      const audio = await receiver.client.waitFor('consumerAdded', (e) => e.consumer.producerId === sender!.producers.audio);
      expect(audio.consumer.producerPaused).toBe(true);
    }
    await expectNothingOnDeadWorker(t.server, room, deadPid);
    for (const peer of room.peers.values()) expect(peer.consumers.size).toBe(4);
    expectNobodyLeft([ann, ben, cy], joins);
    for (const peer of [ann, ben, cy]) peer.client.close();
  });

  it('a room spread over two workers loses only the part on the dead one', async () => {
    t = await startTestServer({ workers: { count: 2, consumerBudget: 4 } });
    const roomId = 'worker-death-spread';
    const ann = await joinPeer(t.url, roomId, 'Ann', { publish: true });
    const ben = await joinPeer(t.url, roomId, 'Ben', { publish: true });
    await ann.client.waitFor('consumerAdded', (e) => e.consumer.producerId === ben.producers.video);
    await ben.client.waitFor('consumerAdded', (e) => e.consumer.producerId === ann.producers.video);
    const cy = await joinPeer(t.url, roomId, 'Cy', { publish: true }); // past the first worker's budget
    for (const peer of [ann, ben]) await peer.client.waitFor('consumerAdded', (e) => e.consumer.producerId === cy.producers.video);
    const room = t.server.registry.get(roomId)!;
    const main = room.routers.main;
    const cyPeer = room.peers.get(cy.join.peerId)!;
    expect(cyPeer.router).not.toBe(main);
    const deadPid = cyPeer.router.appData.workerPid;
    const annPeer = room.peers.get(ann.join.peerId)!;
    const benPeer = room.peers.get(ben.join.peerId)!;
    const keptConsumers = [annPeer.consumerOf(ben.producers.video!)!, benPeer.consumerOf(ann.producers.video!)!];

    const joins = joinsSeen([ann, ben, cy]);
    await killWorker(t.server, deadPid);
    await cy.client.waitFor('mediaReset');
    // The others drop Cy's media, as when a producer closes, and keep everything else.
    for (const peer of [ann, ben]) {
      await peer.client.waitFor('consumerClosed', (e) => e.producerId === cy.producers.video);
      await peer.client.waitFor('producerClosed', (e) => e.producerId === cy.producers.audio);
    }
    await room.recovery.settled();
    await expectPoolWhole(t.server, 2, deadPid);
    expect(room.routers.main).toBe(main);
    for (const consumer of keptConsumers) expect(consumer.closed).toBe(false);
    expect(annPeer.transports.size).toBe(2);
    expect(annPeer.producers.size).toBe(2);
    expect(annPeer.consumerOf(cy.producers.video!)).toBeUndefined();
    for (const peer of [ann, ben]) {
      expect(peer.client.events('mediaReset')).toEqual([]);
      expect(peer.client.events('consumerClosed').every((e) => e.producerId === cy.producers.video || e.producerId === cy.producers.audio)).toBe(true);
    }
    await expectNothingOnDeadWorker(t.server, room, deadPid);

    const cy2 = await rebuild(cy, roomId, { publish: true });
    expect(cy2.join.peerId).toBe(cy.join.peerId);
    for (const peer of [ann, ben]) await peer.client.waitFor('consumerAdded', (e) => e.consumer.producerId === cy2.producers.video);
    await cy.client.waitFor('consumerAdded', (e) => e.consumer.producerId === ann.producers.video);
    await cy.client.waitFor('consumerAdded', (e) => e.consumer.producerId === ben.producers.video);
    await expectNothingOnDeadWorker(t.server, room, deadPid);
    expectNobodyLeft([ann, ben, cy], joins);
    for (const peer of [ann, ben, cy]) peer.client.close();
  });
});

describe('the only worker dies', () => {
  it('the room waits for the replacement worker and moves there', async () => {
    t = await startTestServer({ workers: { count: 1 } });
    const roomId = 'worker-death-single';
    const ann = await joinPeer(t.url, roomId, 'Ann', { publish: true });
    const ben = await joinPeer(t.url, roomId, 'Ben', { publish: true });
    const room = t.server.registry.get(roomId)!;
    const deadPid = room.routers.main.appData.workerPid;
    const joins = joinsSeen([ann, ben]);

    await killWorker(t.server, deadPid);
    for (const peer of [ann, ben]) await peer.client.waitFor('mediaReset');
    await room.recovery.settled();
    await expectPoolWhole(t.server, 1, deadPid);
    expect(room.routers.main.appData.workerPid).toBe(t.server.pool.workers()[0]!.pid);
    await expectNothingOnDeadWorker(t.server, room, deadPid);
    const [ann2, ben2] = await Promise.all([ann, ben].map((peer) => rebuild(peer, roomId, { publish: true })));
    await ann.client.waitFor('consumerAdded', (e) => e.consumer.producerId === ben2!.producers.video);
    await ben.client.waitFor('consumerAdded', (e) => e.consumer.producerId === ann2!.producers.video);
    expectNobodyLeft([ann, ben], joins);
    for (const peer of [ann, ben]) peer.client.close();
  });
});

describe('a worker dies under a webinar spread over two workers', () => {
  it('the worker without the speaker dies: viewers on the other never stop, the affected ones recover', async () => {
    t = await startTestServer({ workers: { count: 2, consumerBudget: 6 } });
    const creator = await TestClient.connect(t.url);
    const keys = await creator.ok('createWebinar', {});
    creator.close();
    const host = await joinPeer(t.url, keys.roomId, 'Host', { key: keys.hostKey, publish: true });
    const viewers: TestPeer[] = [];
    for (let i = 0; i < 8; i++) viewers.push(await joinPeer(t.url, keys.roomId, `V${i}`, { key: keys.audienceKey }));
    for (const viewer of viewers) await viewer.client.waitFor('consumerAdded', (e) => e.consumer.producerId === host.producers.video);
    const room = t.server.registry.get(keys.roomId)!;
    const main = room.routers.main;
    expect(room.peers.get(host.join.peerId)!.router).toBe(main);
    const routerOf = (viewer: TestPeer) => room.peers.get(viewer.join.peerId)!.router;
    const steady = viewers.filter((viewer) => routerOf(viewer) === main);
    const affected = viewers.filter((viewer) => routerOf(viewer) !== main);
    expect(steady.length).toBeGreaterThan(0);
    expect(affected.length).toBeGreaterThan(0);
    const deadPid = routerOf(affected[0]!).appData.workerPid;
    const steadyConsumers = steady.flatMap((viewer) => [...room.peers.get(viewer.join.peerId)!.consumers.values()]);
    expect(steadyConsumers).toHaveLength(steady.length * 2);

    const joins = joinsSeen([host, ...viewers]);
    await killWorker(t.server, deadPid);
    for (const viewer of affected) await viewer.client.waitFor('mediaReset');
    await room.recovery.settled();
    await expectPoolWhole(t.server, 2, deadPid);
    // Viewers on the surviving worker: the same consumers, never closed, never told anything.
    for (const consumer of steadyConsumers) expect(consumer.closed).toBe(false);
    for (const viewer of steady) {
      expect([...room.peers.get(viewer.join.peerId)!.consumers.keys()]).toEqual(
        steadyConsumers.filter((consumer) => consumer.appData.peerId === viewer.join.peerId).map((consumer) => consumer.id),
      );
      expect(viewer.client.events('consumerClosed')).toEqual([]);
      expect(viewer.client.events('mediaReset')).toEqual([]);
    }
    expect(host.client.events('mediaReset')).toEqual([]);
    expect(host.client.events('producerClosed')).toEqual([]);
    await expectNothingOnDeadWorker(t.server, room, deadPid);

    for (const viewer of affected) {
      await rebuild(viewer, keys.roomId, { publish: false });
      await viewer.client.waitFor('consumerAdded', (e) => e.consumer.producerId === host.producers.video && !viewer.join.consumers.some((c) => c.id === e.consumer.id));
    }
    for (const viewer of affected) expect(viewer.client.events('consumerAdded').filter((e) => e.consumer.producerId === host.producers.video)).toHaveLength(2);
    await expectNothingOnDeadWorker(t.server, room, deadPid);
    expectNobodyLeft([host, ...viewers], joins);
    expect(room.audienceCount).toBe(8);
    for (const p of [host, ...viewers]) p.client.close();
  });
});
