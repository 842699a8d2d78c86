import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../shared/index.ts';
import { TestClient } from '../helpers/client.ts';
import { joinPeer } from '../helpers/meeting.ts';
import { type TestServer, startTestServer, workerCounts } from '../helpers/server.ts';

let t: TestServer;
let n = 0;
const nextRoom = () => `features-${++n}`;
beforeAll(async () => {
  t = await startTestServer({ rooms: { reconnectGraceMs: 1_500, chatHistory: 3 } });
});
afterAll(async () => {
  await t.close();
});

describe('mute and camera off are server-side pauses', () => {
  it('pauses the producer on the server and tells the others; resuming undoes both', async () => {
    const roomId = nextRoom();
    const alice = await joinPeer(t.url, roomId, 'Alice', { publish: true });
    const bob = await joinPeer(t.url, roomId, 'Bob');
    const producer = t.server.registry.get(roomId)!.peers.get(alice.join.peerId)!.producers.get(alice.producers.audio!)!;

    await alice.client.ok('setProducerPaused', { producerId: alice.producers.audio!, paused: true });
    expect(producer.paused).toBe(true);
    expect(await bob.client.waitFor('producerPaused')).toEqual({
      peerId: alice.join.peerId, producerId: alice.producers.audio, source: 'microphone', paused: true,
    });
    // A late joiner learns the muted state from the join reply.
    const carol = await joinPeer(t.url, roomId, 'Carol');
    expect(carol.join.peers.find((p) => p.id === alice.join.peerId)!.producers.find((p) => p.source === 'microphone')!.paused).toBe(true);

    await alice.client.ok('setProducerPaused', { producerId: alice.producers.audio!, paused: false });
    expect(producer.paused).toBe(false);
    await bob.client.waitFor('producerPaused', (e) => !e.paused);

    const refused = await bob.client.send('setProducerPaused', { producerId: alice.producers.audio!, paused: true });
    expect(refused).toMatchObject({ ok: false, error: { code: 'PRODUCER_NOT_FOUND' } });
    expect(producer.paused).toBe(false);
    for (const p of [alice, bob, carol]) p.client.close();
  });
});

describe('raised hands', () => {
  it('are shown to everyone, kept in order of raising, and lowered', async () => {
    const roomId = nextRoom();
    const alice = await joinPeer(t.url, roomId, 'Alice');
    const bob = await joinPeer(t.url, roomId, 'Bob');
    await bob.client.ok('setHandRaised', { raised: true });
    const raised = await alice.client.waitFor('peerUpdated');
    expect(raised.peerId).toBe(bob.join.peerId);
    expect(raised.handRaisedAt).toBeGreaterThan(Date.now() - 5_000);

    await bob.client.ok('setHandRaised', { raised: true }); // raising twice keeps the original time
    const carol = await joinPeer(t.url, roomId, 'Carol');
    expect(carol.join.peers.find((p) => p.id === bob.join.peerId)!.handRaisedAt).toBe(raised.handRaisedAt);

    await bob.client.ok('setHandRaised', { raised: false });
    await alice.client.waitFor('peerUpdated', (e) => e.handRaisedAt === null);
    for (const p of [alice, bob, carol]) p.client.close();
  });
});

describe('chat', () => {
  it('delivers messages with sender and time, and replays the bounded history to late joiners', async () => {
    const roomId = nextRoom();
    const alice = await joinPeer(t.url, roomId, 'Alice');
    const bob = await joinPeer(t.url, roomId, 'Bob');
    const sent = await alice.client.ok('sendChat', { text: '  <img src=x onerror=alert(1)> hi  ' });
    expect(sent).toMatchObject({ peerId: alice.join.peerId, displayName: 'Alice', text: '<img src=x onerror=alert(1)> hi' });
    expect(await bob.client.waitFor('chatMessage')).toEqual(sent);

    for (const text of ['two', 'three', 'four']) await bob.client.ok('sendChat', { text });
    const late = await joinPeer(t.url, roomId, 'Late');
    expect(late.join.chat.map((m) => m.text)).toEqual(['two', 'three', 'four']); // history is 3 here

    for (const text of ['   ', 'x'.repeat(LIMITS.chatMessageMaxLength + 1)]) {
      expect(await alice.client.send('sendChat', { text })).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
    }
    for (const p of [alice, bob, late]) p.client.close();
  });
});

describe('reconnection', () => {
  it('a dropped peer resumes its place within the grace period: same identity, media kept, nobody saw it leave', async () => {
    const roomId = nextRoom();
    const alice = await joinPeer(t.url, roomId, 'Alice', { publish: true });
    const bob = await joinPeer(t.url, roomId, 'Bob', { publish: true });
    await alice.client.waitFor('consumerAdded', (e) => e.consumer.producerId === bob.producers.video);
    await alice.client.ok('setProducerPaused', { producerId: alice.producers.audio!, paused: true });
    await alice.client.ok('sendChat', { text: 'before the blip' });
    const before = await workerCounts(t.server);

    alice.client.drop();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const transportIds = [alice.sendTransportId!, alice.recvTransportId!];
    const back = await TestClient.connect(t.url);
    const reply = await back.ok('join', {
      roomId,
      displayName: 'Alice',
      resume: { peerId: alice.join.peerId, token: alice.join.resumeToken, transportIds },
    });
    expect(reply.resumed).toBe(true);
    expect(reply.peerId).toBe(alice.join.peerId);
    expect(reply.transportIds.sort()).toEqual([...transportIds].sort());
    expect(reply.consumers.map((c) => c.producerId).sort()).toEqual([bob.producers.audio, bob.producers.video].sort());
    expect(reply.self.producers.find((p) => p.source === 'microphone')!.paused).toBe(true);
    expect(reply.chat.map((m) => m.text)).toContain('before the blip');
    expect(await workerCounts(t.server)).toEqual(before);

    // Past the grace period, Bob has still seen no one leave or join.
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    expect(bob.client.events('peerLeft')).toEqual([]);
    expect(bob.client.events('peerJoined')).toEqual([]);
    // And the resumed connection works: ICE restart on its own transport.
    const restarted = await back.ok('restartIce', { transportId: alice.recvTransportId! });
    expect(restarted.iceParameters.usernameFragment).toBeTruthy();
    expect(await bob.client.send('restartIce', { transportId: alice.recvTransportId! })).toMatchObject({
      ok: false, error: { code: 'TRANSPORT_NOT_FOUND' },
    });
    back.close();
    bob.client.close();
  });

  it('removes a dropped peer once the grace period ends', async () => {
    const roomId = nextRoom();
    const alice = await joinPeer(t.url, roomId, 'Alice', { publish: true });
    const bob = await joinPeer(t.url, roomId, 'Bob');
    const droppedAt = Date.now();
    alice.client.drop();
    await bob.client.waitFor('peerLeft', (e) => e.peerId === alice.join.peerId, 5_000);
    expect(Date.now() - droppedAt).toBeGreaterThanOrEqual(1_400);
    await bob.client.waitFor('producerClosed', (e) => e.producerId === alice.producers.video);
    bob.client.close();
  });

  it('a second tab with the same identity replaces the first instead of duplicating it', async () => {
    const roomId = nextRoom();
    const alice = await joinPeer(t.url, roomId, 'Alice', { publish: true });
    const bob = await joinPeer(t.url, roomId, 'Bob');
    const secondTab = await joinPeer(t.url, roomId, 'Alice', {
      publish: true,
      resume: { peerId: alice.join.peerId, token: alice.join.resumeToken, transportIds: [] },
    });
    expect(secondTab.join).toMatchObject({ resumed: true, peerId: alice.join.peerId, transportIds: [] });
    await alice.client.waitFor('sessionReplaced');
    expect(await alice.client.send('sendChat', { text: 'from the old tab' })).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });

    const room = t.server.registry.get(roomId)!;
    expect(room.peers.size).toBe(2);
    const peer = room.peers.get(alice.join.peerId)!;
    expect([...peer.transports.keys()].sort()).toEqual([secondTab.sendTransportId, secondTab.recvTransportId].sort());
    // Bob lost the old tab's producers and got the new tab's, and never saw Alice leave.
    await bob.client.waitFor('producerClosed', (e) => e.producerId === alice.producers.video);
    await bob.client.waitFor('consumerAdded', (e) => e.consumer.producerId === secondTab.producers.video);
    expect(bob.client.events('peerLeft')).toEqual([]);

    alice.client.close(); // the replaced tab closing does not take the identity with it
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(room.peers.has(alice.join.peerId)).toBe(true);
    secondTab.client.close();
    bob.client.close();
  });

  it('a wrong token joins as a new person and leaves the real one untouched', async () => {
    const roomId = nextRoom();
    const alice = await joinPeer(t.url, roomId, 'Alice');
    const mallory = await joinPeer(t.url, roomId, 'Mallory', {
      resume: { peerId: alice.join.peerId, token: 'x'.repeat(32), transportIds: [] },
    });
    expect(mallory.join.resumed).toBe(false);
    expect(mallory.join.peerId).not.toBe(alice.join.peerId);
    expect(alice.client.events('sessionReplaced')).toEqual([]);
    expect(t.server.registry.get(roomId)!.peers.size).toBe(2);
    alice.client.close();
    mallory.client.close();
  });
});
