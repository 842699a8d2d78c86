import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JoinReply, MeetingKeys, Reply } from '../../shared/index.ts';
import { TestClient } from '../helpers/client.ts';
import { type TestPeer, joinPeer } from '../helpers/meeting.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

let t: TestServer;
let n = 0;
const nextRoom = () => `lobby-${++n}`;
const open: TestClient[] = [];
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  for (const client of open) client.close();
  await t.close();
});

/** A join request left pending in the lobby, with the reply once it comes. */
interface Waiter {
  client: TestClient;
  reply: Promise<Reply<JoinReply>>;
  settled(): boolean;
}

async function knock(roomId: string, displayName: string, extra: { key?: string } = {}): Promise<Waiter> {
  const client = await TestClient.connect(t.url);
  open.push(client);
  let done = false;
  const reply = client.send('join', { roomId, displayName, ...extra }).finally(() => {
    done = true;
  });
  reply.catch(() => undefined); // a waiter that closes its socket never gets a reply; tests that care await it
  return { client, reply, settled: () => done };
}

async function host(roomId: string, options: Parameters<typeof joinPeer>[3] = {}): Promise<TestPeer> {
  const peer = await joinPeer(t.url, roomId, 'Hana', options);
  open.push(peer.client);
  expect(peer.join.role).toBe('host');
  return peer;
}

/** A meeting with its host in and the lobby on. */
async function lobbyMeeting(): Promise<{ roomId: string; hana: TestPeer }> {
  const roomId = nextRoom();
  const hana = await host(roomId);
  await hana.client.ok('setRoomSettings', { lobby: true });
  return { roomId, hana };
}

const lobbyOf = (roomId: string) => t.server.registry.get(roomId)!.moderation;

describe('the lobby', () => {
  it('a joiner waits (lobbyWaiting; hosts see them) until a host admits them; then both see each other', async () => {
    const { roomId, hana } = await lobbyMeeting();
    const alice = await knock(roomId, 'Alice');
    await alice.client.waitFor('lobbyWaiting');
    const { waiting } = await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 1);
    expect(waiting[0]).toMatchObject({ displayName: 'Alice' });
    expect(alice.settled()).toBe(false);
    expect(t.server.registry.get(roomId)!.peers.size).toBe(1);

    expect(await hana.client.ok('answerLobby', { entryIds: [waiting[0]!.id], admit: true })).toEqual({ answered: 1 });
    const reply = await alice.reply;
    expect(reply.ok).toBe(true);
    const joined = reply.ok ? reply.data : undefined!;
    expect(joined).toMatchObject({ role: 'participant', roomSettings: { locked: false, lobby: true } });
    expect(joined.lobby).toBeUndefined(); // participants are not shown the queue
    expect(joined.peers.map((p) => p.id)).toEqual([hana.join.peerId]);
    await hana.client.waitFor('peerJoined', (e) => e.peer.id === joined.peerId);
    await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 0);
    // Answering an entry that is gone (or never was) answers nothing.
    expect(await hana.client.ok('answerLobby', { entryIds: [waiting[0]!.id, 'no-such-entry'], admit: true })).toEqual({ answered: 0 });
    // Admitted, Alice is a participant: she has no say over the lobby and does not hear of it.
    expect(await alice.client.send('answerLobby', { entryIds: 'all', admit: true })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const bob = await knock(roomId, 'Bob');
    await hana.client.waitFor('lobbyChanged', (e) => e.waiting.some((w) => w.displayName === 'Bob'));
    expect(alice.client.events('lobbyChanged')).toEqual([]);
    bob.client.close();
  });

  it('a denied joiner gets LOBBY_DENIED and never enters', async () => {
    const { roomId, hana } = await lobbyMeeting();
    const eve = await knock(roomId, 'Eve');
    const { waiting } = await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 1);
    expect(await hana.client.ok('answerLobby', { entryIds: [waiting[0]!.id], admit: false })).toEqual({ answered: 1 });
    expect(await eve.reply).toEqual({ ok: false, error: { code: 'LOBBY_DENIED', message: 'A host declined to let you in' } });
    expect(t.server.registry.get(roomId)!.peers.size).toBe(1);
    expect(hana.client.events('peerJoined')).toEqual([]);
    await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 0);
  });

  it('a connection waiting in the lobby cannot queue a second join (ALREADY_JOINED); admitted, it is one peer', async () => {
    const { roomId, hana } = await lobbyMeeting();
    const eve = await knock(roomId, 'Eve');
    await eve.client.waitFor('lobbyWaiting');
    expect(await eve.client.send('join', { roomId, displayName: 'Eve again' })).toMatchObject({ ok: false, error: { code: 'ALREADY_JOINED' } });
    const { waiting } = await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 1);
    expect(waiting.map((w) => w.displayName)).toEqual(['Eve']);
    expect(await hana.client.ok('answerLobby', { entryIds: 'all', admit: true })).toEqual({ answered: 1 });
    expect((await eve.reply).ok).toBe(true);
    expect(t.server.registry.get(roomId)!.peers.size).toBe(2);
  });

  it("'all' admits everyone waiting at once, and so does turning the lobby off", async () => {
    const { roomId, hana } = await lobbyMeeting();
    const first = await Promise.all(['A', 'B', 'C'].map((name) => knock(roomId, name)));
    await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 3);
    expect(await hana.client.ok('answerLobby', { entryIds: 'all', admit: true })).toEqual({ answered: 3 });
    for (const waiter of first) expect(await waiter.reply).toMatchObject({ ok: true, data: { role: 'participant' } });
    expect(t.server.registry.get(roomId)!.peers.size).toBe(4);

    const later = await Promise.all(['D', 'E'].map((name) => knock(roomId, name)));
    await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 2);
    await hana.client.ok('setRoomSettings', { lobby: false });
    for (const waiter of later) expect(await waiter.reply).toMatchObject({ ok: true, data: { roomSettings: { lobby: false } } });
    expect(t.server.registry.get(roomId)!.peers.size).toBe(6);
  });

  it('a waiter who disconnects leaves the queue, and the hosts hear it', async () => {
    const { roomId, hana } = await lobbyMeeting();
    const gus = await knock(roomId, 'Gus');
    await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 1);
    gus.client.close();
    await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 0);
    expect(lobbyOf(roomId).holdsRoomOpen).toBe(false);
    expect(await hana.client.ok('answerLobby', { entryIds: 'all', admit: true })).toEqual({ answered: 0 });
    expect(t.server.registry.get(roomId)!.peers.size).toBe(1);
  });

  it('the queue belongs to the room: a host who reconnects still sees it and can answer', async () => {
    const { roomId, hana } = await lobbyMeeting();
    const alice = await knock(roomId, 'Alice');
    await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 1);
    hana.client.drop();
    const back = await TestClient.connect(t.url);
    open.push(back);
    const rejoined = await back.ok('join', {
      roomId,
      displayName: 'Hana',
      resume: { peerId: hana.join.peerId, token: hana.join.resumeToken, transportIds: [] },
    });
    expect(rejoined).toMatchObject({ resumed: true, role: 'host' });
    expect(rejoined.lobby).toEqual([expect.objectContaining({ displayName: 'Alice' })]);
    await back.ok('answerLobby', { entryIds: [rejoined.lobby![0]!.id], admit: true });
    expect(await alice.reply).toMatchObject({ ok: true, data: { peers: [{ id: hana.join.peerId }] } });
  });

  it('a co-host answers the lobby; a new co-host is told who waits', async () => {
    const { roomId, hana } = await lobbyMeeting();
    const cora = await knock(roomId, 'Cora');
    const { waiting } = await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 1);
    await hana.client.ok('answerLobby', { entryIds: waiting.map((w) => w.id), admit: true });
    const coraJoin = await cora.reply;
    const coraId = coraJoin.ok ? coraJoin.data.peerId : '';
    const dan = await knock(roomId, 'Dan');
    await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 1);
    await hana.client.ok('setParticipantRole', { peerId: coraId, role: 'cohost' });
    const told = await cora.client.waitFor('lobbyChanged');
    expect(told.waiting).toEqual([expect.objectContaining({ displayName: 'Dan' })]);
    expect(await cora.client.ok('answerLobby', { entryIds: 'all', admit: false })).toEqual({ answered: 1 });
    expect(await dan.reply).toMatchObject({ ok: false, error: { code: 'LOBBY_DENIED' } });
  });

  it('people with the host link skip the lobby; ending the meeting refuses everyone waiting', async () => {
    const creator = await TestClient.connect(t.url);
    const keys: MeetingKeys = await creator.ok('createMeeting', {});
    creator.close();
    const hana = await host(keys.roomId, { key: keys.hostKey });
    await hana.client.ok('setRoomSettings', { lobby: true });
    const cohost = await knock(keys.roomId, 'Lin', { key: keys.hostKey });
    expect(await cohost.reply).toMatchObject({ ok: true, data: { role: 'host', lobby: [] } });
    expect(cohost.client.events('lobbyWaiting')).toEqual([]);

    const waiters = await Promise.all(['A', 'B'].map((name) => knock(keys.roomId, name)));
    await hana.client.waitFor('lobbyChanged', (e) => e.waiting.length === 2);
    await hana.client.ok('endMeeting', {});
    for (const waiter of waiters) expect(await waiter.reply).toMatchObject({ ok: false, error: { code: 'LOBBY_DENIED' } });
    expect(t.server.registry.get(keys.roomId)).toBeUndefined();
  });

  it('a room with waiters and nobody in stays open for a returning host; it closes when the last waiter goes', async () => {
    const { roomId, hana } = await lobbyMeeting();
    hana.client.close();
    await expect.poll(() => t.server.registry.get(roomId)).toBeUndefined();

    // The lobby setting is stored: the next joiner waits in a room nobody is in.
    const alice = await knock(roomId, 'Alice');
    await alice.client.waitFor('lobbyWaiting');
    await expect.poll(() => t.server.registry.get(roomId)?.moderation.holdsRoomOpen).toBe(true);
    const room = t.server.registry.get(roomId)!;
    expect(room.peers.size).toBe(0);
    expect(room.closed).toBe(false);

    // The host comes back with the stored identity, skips the lobby, and finds Alice waiting.
    const back = await joinPeer(t.url, roomId, 'Hana', { resume: { peerId: hana.join.peerId, token: hana.join.resumeToken, transportIds: [] } });
    open.push(back.client);
    expect(back.join).toMatchObject({ peerId: hana.join.peerId, role: 'host', resumed: false });
    expect(back.join.lobby).toEqual([expect.objectContaining({ displayName: 'Alice' })]);
    expect(t.server.registry.get(roomId)).toBe(room);
    back.client.close();
    await expect.poll(() => room.peers.size).toBe(0);
    expect(room.closed).toBe(false); // Alice still waits

    alice.client.close();
    await expect.poll(() => room.closed).toBe(true);
    expect(t.server.registry.get(roomId)).toBeUndefined();
  });
});
