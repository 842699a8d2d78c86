import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinPeer } from '../helpers/meeting.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

describe('a handler that throws unexpectedly', () => {
  it('answers INTERNAL_ERROR to its sender only; the room, the sender and the others carry on', async () => {
    const roomId = 'faulty-handler';
    const alice = await joinPeer(t.url, roomId, 'Alice', { publish: true });
    const bob = await joinPeer(t.url, roomId, 'Bob', { publish: true });
    await bob.client.waitFor('consumerAdded', (e) => e.consumer.peerId === alice.join.peerId && e.consumer.kind === 'video');
    const room = t.server.registry.get(roomId)!;

    // A bug, not a refusal: a plain Error from deep inside the room, once.
    const postChat = room.postChat.bind(room);
    room.postChat = () => {
      room.postChat = postChat;
      throw new TypeError("Cannot read properties of undefined (reading 'text')");
    };
    expect(await alice.client.send('sendChat', { text: 'hello' })).toEqual({ ok: false, error: { code: 'INTERNAL_ERROR', message: 'internal error' } });
    expect(bob.client.events('chatMessage')).toEqual([]);

    // Same room, same members, same sockets; requests from both keep working.
    expect(t.server.registry.get(roomId)).toBe(room);
    expect([...room.peers.keys()].sort()).toEqual([alice.join.peerId, bob.join.peerId].sort());
    expect(alice.client.socket.connected && bob.client.socket.connected).toBe(true);
    await alice.client.ok('sendChat', { text: 'hello again' });
    await bob.client.waitFor('chatMessage', (m) => m.text === 'hello again');
    await bob.client.ok('setHandRaised', { raised: true });
    await alice.client.waitFor('peerUpdated', (e) => e.peerId === bob.join.peerId && e.handRaisedAt !== null);
    // Media still routes: a newcomer receives both, and both receive the newcomer.
    const carol = await joinPeer(t.url, roomId, 'Carol', { publish: true });
    await carol.client.waitFor('consumerAdded', (e) => e.consumer.peerId === alice.join.peerId && e.consumer.kind === 'video');
    await carol.client.waitFor('consumerAdded', (e) => e.consumer.peerId === bob.join.peerId && e.consumer.kind === 'video');
    await alice.client.waitFor('consumerAdded', (e) => e.consumer.peerId === carol.join.peerId);
    for (const peer of [alice, bob, carol]) peer.client.close();
  });
});
