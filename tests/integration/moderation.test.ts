import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JoinReply, MeetingKeys, RequestName, RequestPayload, RtpParametersPayload } from '../../shared/index.ts';
import { TestClient } from '../helpers/client.ts';
import { type TestPeer, joinPeer } from '../helpers/meeting.ts';
import { opusParameters, vp8SimulcastParameters } from '../helpers/rtp-fixtures.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

let t: TestServer;
let n = 0;
const nextRoom = () => `moderation-${++n}`;
const open: TestPeer[] = [];
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  for (const peer of open) peer.client.close();
  await t.close();
});

async function join(url: string, roomId: string, name: string, options: Parameters<typeof joinPeer>[3] = {}): Promise<TestPeer> {
  const peer = await joinPeer(url, roomId, name, options);
  open.push(peer);
  return peer;
}

/** An open meeting opened by id: its first comer is the host. Everyone publishes a mic and a camera. */
async function meeting(...others: string[]): Promise<{ roomId: string; host: TestPeer; peers: TestPeer[] }> {
  const roomId = nextRoom();
  const host = await join(t.url, roomId, 'Hana', { publish: true });
  expect(host.join.role).toBe('host');
  const peers: TestPeer[] = [];
  for (const name of others) peers.push(await join(t.url, roomId, name, { publish: true }));
  return { roomId, host, peers };
}

const room = (roomId: string) => t.server.registry.get(roomId)!;
const serverPeer = (roomId: string, peerId: string) => room(roomId).peers.get(peerId)!;
const resumeOf = (peer: TestPeer) => ({ peerId: peer.join.peerId, token: peer.join.resumeToken, transportIds: [] as string[] });

let screenSsrc = 7_700_000;
function screenParameters(): RtpParametersPayload {
  const base = vp8SimulcastParameters('2');
  return { ...base, headerExtensions: (base.headerExtensions ?? []).slice(0, 1), encodings: [{ ssrc: screenSsrc++ }] };
}

async function createMeeting(url: string): Promise<MeetingKeys> {
  const creator = await TestClient.connect(url);
  try {
    return await creator.ok('createMeeting', {});
  } finally {
    creator.close();
  }
}

async function tryJoin(url: string, roomId: string, extra: Partial<RequestPayload<'join'>> = {}) {
  const client = await TestClient.connect(url);
  try {
    return await client.send('join', { roomId, displayName: 'Knocker', ...extra });
  } finally {
    client.close();
  }
}

describe('who is host', () => {
  it('the first comer of an open meeting opened by id is host; later ones are participants; a created meeting has hosts only through its link', async () => {
    const { roomId, host, peers: [alice] } = await meeting('Alice');
    expect(alice!.join.role).toBe('participant');
    expect(alice!.join.peers.find((p) => p.id === host.join.peerId)!.role).toBe('host');

    const keys = await createMeeting(t.url);
    const guest = await join(t.url, keys.roomId, 'Gus');
    expect(guest.join.role).toBe('participant');
    const linkHost = await join(t.url, keys.roomId, 'Lin', { key: keys.hostKey });
    expect(linkHost.join).toMatchObject({ role: 'host', meetingKeys: keys });
    expect(room(roomId).peers.get(host.join.peerId)!.role).toBe('host');
  });
});

describe('muteParticipant', () => {
  it('pauses the microphone on the server, tells everyone, and tells the person who did it; only they unmute', async () => {
    const { roomId, host, peers: [alice, bob] } = await meeting('Alice', 'Bob');
    const mic = alice!.producers.audio!;
    await host.client.ok('muteParticipant', { peerId: alice!.join.peerId });
    expect(serverPeer(roomId, alice!.join.peerId).producers.get(mic)!.paused).toBe(true);
    expect(await alice!.client.waitFor('mutedByHost')).toEqual({ source: 'microphone', byName: 'Hana' });
    for (const other of [host, bob!]) await other.client.waitFor('producerPaused', (e) => e.producerId === mic && e.paused);

    // Alice cannot be unmuted by the host (the producer is hers), but she unmutes herself.
    expect(await host.client.send('setProducerPaused', { producerId: mic, paused: false })).toMatchObject({ ok: false, error: { code: 'PRODUCER_NOT_FOUND' } });
    await alice!.client.ok('setProducerPaused', { producerId: mic, paused: false });
    expect(serverPeer(roomId, alice!.join.peerId).producers.get(mic)!.paused).toBe(false);
    for (const other of [host, bob!]) await other.client.waitFor('producerPaused', (e) => e.producerId === mic && !e.paused);

    // Wrong targets.
    expect(await host.client.send('muteParticipant', { peerId: 'nobody-here' })).toMatchObject({ ok: false, error: { code: 'PEER_NOT_FOUND' } });
    expect(await host.client.send('muteParticipant', { peerId: host.join.peerId })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('a muted person without a microphone yet gets one that starts paused', async () => {
    const { roomId, host } = await meeting();
    const quiet = await join(t.url, roomId, 'Quinn');
    await host.client.ok('muteParticipant', { peerId: quiet.join.peerId });
    await quiet.client.waitFor('mutedByHost');
    const send = await quiet.client.ok('createTransport', { direction: 'send' });
    const { producerId } = await quiet.client.ok('produce', { transportId: send.id, kind: 'audio', source: 'microphone', rtpParameters: opusParameters('1', 4_300_001) });
    expect(serverPeer(roomId, quiet.join.peerId).producers.get(producerId)!.paused).toBe(true);
    expect((await host.client.waitFor('producerAdded', (e) => e.producer.id === producerId)).producer.paused).toBe(true);
    expect(quiet.client.events('mutedByHost')).toHaveLength(2);
  });

  it('a host-muted person who leaves and comes back with the resume token is still muted; after unmuting, not any more', async () => {
    const { roomId, host, peers: [alice] } = await meeting('Alice');
    await host.client.ok('muteParticipant', { peerId: alice!.join.peerId });
    await alice!.client.waitFor('mutedByHost');
    alice!.client.close();
    await host.client.waitFor('peerLeft', (e) => e.peerId === alice!.join.peerId);

    const back = await join(t.url, roomId, 'Alice', { publish: true, resume: resumeOf(alice!) });
    expect(back.join).toMatchObject({ peerId: alice!.join.peerId, resumed: false, role: 'participant' });
    expect(serverPeer(roomId, back.join.peerId).producers.get(back.producers.audio!)!.paused).toBe(true);
    expect(serverPeer(roomId, back.join.peerId).producers.get(back.producers.video!)!.paused).toBe(false);
    await back.client.waitFor('mutedByHost');

    await back.client.ok('setProducerPaused', { producerId: back.producers.audio!, paused: false });
    back.client.close();
    await expect.poll(() => room(roomId).peers.has(alice!.join.peerId)).toBe(false);
    const again = await join(t.url, roomId, 'Alice', { publish: true, resume: resumeOf(alice!) });
    // The mute is over, and with it the stored identity: a fresh person.
    expect(again.join.peerId).not.toBe(alice!.join.peerId);
    expect(serverPeer(roomId, again.join.peerId).producers.get(again.producers.audio!)!.paused).toBe(false);
  });
});

describe('askToUnmute', () => {
  it('sends the person a request naming the host', async () => {
    const { host, peers: [alice] } = await meeting('Alice');
    await host.client.ok('askToUnmute', { peerId: alice!.join.peerId });
    expect(await alice!.client.waitFor('unmuteRequested')).toEqual({ byName: 'Hana' });
    expect(await host.client.send('askToUnmute', { peerId: 'nobody-here' })).toMatchObject({ ok: false, error: { code: 'PEER_NOT_FOUND' } });
  });
});

describe('stopParticipantVideo', () => {
  it('camera: paused on the server and for everyone; screen: closed with its audio for everyone', async () => {
    const { roomId, host, peers: [alice, bob] } = await meeting('Alice', 'Bob');
    const camera = alice!.producers.video!;
    await host.client.ok('stopParticipantVideo', { peerId: alice!.join.peerId, source: 'camera' });
    expect(serverPeer(roomId, alice!.join.peerId).producers.get(camera)!.paused).toBe(true);
    expect(await alice!.client.waitFor('mutedByHost', (e) => e.source === 'camera')).toEqual({ source: 'camera', byName: 'Hana' });
    for (const other of [host, bob!]) await other.client.waitFor('producerPaused', (e) => e.producerId === camera && e.paused && e.source === 'camera');

    const screen = (await alice!.client.ok('produce', { transportId: alice!.sendTransportId!, kind: 'video', source: 'screen', rtpParameters: screenParameters() })).producerId;
    const screenAudio = (await alice!.client.ok('produce', { transportId: alice!.sendTransportId!, kind: 'audio', source: 'screen-audio', rtpParameters: opusParameters('3', 4_300_002) })).producerId;
    await host.client.ok('stopParticipantVideo', { peerId: alice!.join.peerId, source: 'screen' });
    const peer = serverPeer(roomId, alice!.join.peerId);
    expect(peer.producers.has(screen)).toBe(false);
    expect(peer.producers.has(screenAudio)).toBe(false);
    expect(peer.producers.has(alice!.producers.audio!)).toBe(true); // the microphone is untouched
    await alice!.client.waitFor('mutedByHost', (e) => e.source === 'screen');
    for (const other of [host, bob!]) {
      await other.client.waitFor('producerClosed', (e) => e.producerId === screen);
      await other.client.waitFor('producerClosed', (e) => e.producerId === screenAudio);
    }
  });
});

describe('muteEveryone', () => {
  it('mutes every microphone but the hosts\' and co-hosts\', for everyone', async () => {
    const { roomId, host, peers: [cora, alice, bob] } = await meeting('Cora', 'Alice', 'Bob');
    await host.client.ok('setParticipantRole', { peerId: cora!.join.peerId, role: 'cohost' });
    expect(await cora!.client.ok('muteEveryone', {})).toEqual({ muted: 2 });
    for (const muted of [alice!, bob!]) {
      expect(serverPeer(roomId, muted.join.peerId).producers.get(muted.producers.audio!)!.paused).toBe(true);
      await muted.client.waitFor('mutedByHost', (e) => e.byName === 'Cora');
      for (const other of [host, cora!, alice!, bob!].filter((p) => p !== muted)) {
        await other.client.waitFor('producerPaused', (e) => e.producerId === muted.producers.audio && e.paused);
      }
    }
    for (const moderator of [host, cora!]) {
      expect(serverPeer(roomId, moderator.join.peerId).producers.get(moderator.producers.audio!)!.paused).toBe(false);
    }
    // Nothing left to mute.
    expect(await host.client.ok('muteEveryone', {})).toEqual({ muted: 0 });
  });
});

describe('removeParticipant', () => {
  it('they leave for everyone, their connection is out, and their identity is refused from then on', async () => {
    const { roomId, host, peers: [alice, bob] } = await meeting('Alice', 'Bob');
    await host.client.ok('removeParticipant', { peerId: alice!.join.peerId });
    expect(await alice!.client.waitFor('roomClosed')).toEqual({ reason: 'removed', byName: 'Hana' });
    for (const other of [host, bob!]) {
      await other.client.waitFor('peerLeft', (e) => e.peerId === alice!.join.peerId);
      await other.client.waitFor('producerClosed', (e) => e.producerId === alice!.producers.video);
    }
    expect(room(roomId).peers.has(alice!.join.peerId)).toBe(false);
    expect(await alice!.client.send('sendChat', { text: 'still here?' })).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });
    expect(await alice!.client.send('produce', { transportId: alice!.sendTransportId!, kind: 'audio', source: 'microphone', rtpParameters: opusParameters() })).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });

    expect(await tryJoin(t.url, roomId, { resume: resumeOf(alice!) })).toMatchObject({ ok: false, error: { code: 'REMOVED' } });
    // A wrong token for that id is just a fresh join.
    const stranger = await tryJoin(t.url, roomId, { resume: { ...resumeOf(alice!), token: 'y'.repeat(32) } });
    expect(stranger.ok && stranger.data.peerId).not.toBe(alice!.join.peerId);
    expect(stranger).toMatchObject({ ok: true, data: { resumed: false } });
  });
});

describe('co-hosts', () => {
  it('the host makes a co-host (everyone hears); a co-host has the powers but cannot act against a host, nor change roles', async () => {
    const { roomId, host, peers: [alice, bob] } = await meeting('Alice', 'Bob');
    await host.client.ok('setParticipantRole', { peerId: alice!.join.peerId, role: 'cohost' });
    for (const peer of [host, alice!, bob!]) await peer.client.waitFor('roleChanged', (e) => e.peerId === alice!.join.peerId && e.role === 'cohost');
    expect(serverPeer(roomId, alice!.join.peerId).role).toBe('cohost');

    const hostMic = host.producers.audio!;
    for (const [name, payload] of [
      ['muteParticipant', { peerId: host.join.peerId }],
      ['removeParticipant', { peerId: host.join.peerId }],
      ['stopParticipantVideo', { peerId: host.join.peerId, source: 'camera' }],
      ['setParticipantRole', { peerId: bob!.join.peerId, role: 'cohost' }],
      ['transferHost', { peerId: bob!.join.peerId }],
    ] as const) {
      expect(await alice!.client.send(name, payload), name).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    }
    expect(serverPeer(roomId, host.join.peerId).producers.get(hostMic)!.paused).toBe(false);
    expect(room(roomId).peers.has(host.join.peerId)).toBe(true);
    expect(serverPeer(roomId, bob!.join.peerId).role).toBe('participant');

    await alice!.client.ok('muteParticipant', { peerId: bob!.join.peerId });
    expect(serverPeer(roomId, bob!.join.peerId).producers.get(bob!.producers.audio!)!.paused).toBe(true);

    await host.client.ok('setParticipantRole', { peerId: alice!.join.peerId, role: 'participant' });
    for (const peer of [host, alice!, bob!]) await peer.client.waitFor('roleChanged', (e) => e.peerId === alice!.join.peerId && e.role === 'participant');
    expect(await alice!.client.send('askToUnmute', { peerId: bob!.join.peerId })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('transferHost: the target becomes host and the sender a co-host, for everyone', async () => {
    const { roomId, host, peers: [alice, bob] } = await meeting('Alice', 'Bob');
    await host.client.ok('transferHost', { peerId: alice!.join.peerId });
    for (const peer of [host, alice!, bob!]) {
      await peer.client.waitFor('roleChanged', (e) => e.peerId === alice!.join.peerId && e.role === 'host');
      await peer.client.waitFor('roleChanged', (e) => e.peerId === host.join.peerId && e.role === 'cohost');
    }
    expect(serverPeer(roomId, alice!.join.peerId).role).toBe('host');
    expect(serverPeer(roomId, host.join.peerId).role).toBe('cohost');
    expect(await host.client.send('transferHost', { peerId: bob!.join.peerId })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await host.client.send('removeParticipant', { peerId: alice!.join.peerId })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('a host who drops and resumes is host again, and so is one who left and comes back with the token', async () => {
    const { roomId, host, peers: [alice] } = await meeting('Alice');
    host.client.drop();
    const resumed = await join(t.url, roomId, 'Hana', { resume: { ...resumeOf(host), transportIds: [host.sendTransportId!, host.recvTransportId!] }, ready: false });
    expect(resumed.join).toMatchObject({ resumed: true, role: 'host', peerId: host.join.peerId });
    resumed.client.close();
    await alice!.client.waitFor('peerLeft', (e) => e.peerId === host.join.peerId);

    // Alice, now alone, is no host: the host's place is kept in the store, not handed on by leaving.
    const back = await join(t.url, roomId, 'Hana', { resume: resumeOf(host) });
    expect(back.join).toMatchObject({ resumed: false, role: 'host', peerId: host.join.peerId });
    expect(serverPeer(roomId, alice!.join.peerId).role).toBe('participant');
  });
});

describe('setRoomSettings and the lock', () => {
  it('everyone hears the change; a plain joiner is refused ROOM_LOCKED while the host link and stored identities still enter', async () => {
    const keys = await createMeeting(t.url);
    const host = await join(t.url, keys.roomId, 'Hana', { key: keys.hostKey, publish: true });
    const alice = await join(t.url, keys.roomId, 'Alice');
    const bob = await join(t.url, keys.roomId, 'Bob');
    await host.client.ok('setParticipantRole', { peerId: alice.join.peerId, role: 'cohost' });
    expect(await host.client.ok('setRoomSettings', { locked: true })).toEqual({ locked: true, lobby: false, fileSharing: 'everyone' });
    for (const peer of [host, alice, bob]) {
      expect(await peer.client.waitFor('roomSettings')).toEqual({ locked: true, lobby: false, fileSharing: 'everyone', byName: 'Hana' });
    }
    expect(await tryJoin(t.url, keys.roomId)).toMatchObject({ ok: false, error: { code: 'ROOM_LOCKED' } });
    expect(await tryJoin(t.url, keys.roomId, { key: keys.hostKey })).toMatchObject({ ok: true, data: { role: 'host', roomSettings: { locked: true, lobby: false } } });
    // The co-host leaves and comes back with its token: a stored identity passes the lock.
    alice.client.close();
    await host.client.waitFor('peerLeft', (e) => e.peerId === alice.join.peerId);
    const cohost = await join(t.url, keys.roomId, 'Alice', { resume: resumeOf(alice) });
    expect(cohost.join).toMatchObject({ role: 'cohost', roomSettings: { locked: true, lobby: false } });

    expect(await cohost.client.ok('setRoomSettings', { locked: false })).toEqual({ locked: false, lobby: false, fileSharing: 'everyone' });
    await bob.client.waitFor('roomSettings', (e) => !e.locked && e.byName === 'Alice');
    expect(await tryJoin(t.url, keys.roomId)).toMatchObject({ ok: true, data: { role: 'participant' } });
  });
});

describe('endMeeting', () => {
  it('everyone gets roomClosed: ended and the room closes; its settings and host link still work later', async () => {
    const keys = await createMeeting(t.url);
    const host = await join(t.url, keys.roomId, 'Hana', { key: keys.hostKey, publish: true });
    const alice = await join(t.url, keys.roomId, 'Alice', { publish: true });
    const bob = await join(t.url, keys.roomId, 'Bob');
    await host.client.ok('setRoomSettings', { locked: true });
    await host.client.ok('endMeeting', {});
    for (const peer of [host, alice, bob]) expect(await peer.client.waitFor('roomClosed')).toEqual({ reason: 'ended', byName: 'Hana' });
    expect(t.server.registry.get(keys.roomId)).toBeUndefined();
    expect(await alice.client.send('sendChat', { text: 'hello?' })).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });

    expect(await tryJoin(t.url, keys.roomId)).toMatchObject({ ok: false, error: { code: 'ROOM_LOCKED' } });
    const again = await join(t.url, keys.roomId, 'Hana', { key: keys.hostKey });
    expect(again.join).toMatchObject({ role: 'host', roomSettings: { locked: true, lobby: false } });
  });
});

type Attempt = { [N in RequestName]: [N, RequestPayload<N>] }[RequestName];

/** Every host power, aimed at `target` (and `other` for role changes). */
function hostPowers(target: string, other: string): Attempt[] {
  return [
    ['muteParticipant', { peerId: target }],
    ['askToUnmute', { peerId: target }],
    ['stopParticipantVideo', { peerId: target, source: 'camera' }],
    ['stopParticipantVideo', { peerId: target, source: 'screen' }],
    ['muteEveryone', {}],
    ['removeParticipant', { peerId: target }],
    ['setRoomSettings', { locked: true, lobby: true }],
    ['setParticipantRole', { peerId: other, role: 'cohost' }],
    ['transferHost', { peerId: other }],
    ['answerLobby', { entryIds: 'all', admit: true }],
    ['endMeeting', {}],
  ];
}

describe('nobody else has these powers', () => {
  it('a participant and a removed peer are refused every one, and nothing changes', async () => {
    const { roomId, host, peers: [alice, bob, eve] } = await meeting('Alice', 'Bob', 'Eve');
    await host.client.ok('removeParticipant', { peerId: eve!.join.peerId });
    const snapshot = () => ({
      peers: [...room(roomId).peers.values()].map((p) => ({ id: p.id, role: p.role, paused: [...p.producers.values()].map((x) => x.paused) })),
      settings: room(roomId).moderation.settings,
    });
    const before = snapshot();
    for (const [actor, code] of [[bob!, 'FORBIDDEN'], [eve!, 'NOT_JOINED']] as const) {
      for (const [name, payload] of hostPowers(host.join.peerId, alice!.join.peerId)) {
        expect(await actor.client.send(name, payload), `${name} by ${code}`).toMatchObject({ ok: false, error: { code } });
        expect(snapshot()).toEqual(before);
      }
      for (const [name, payload] of hostPowers(alice!.join.peerId, alice!.join.peerId)) {
        expect(await actor.client.send(name, payload), `${name} by ${code}`).toMatchObject({ ok: false, error: { code } });
      }
    }
    expect(snapshot()).toEqual(before);
    for (const peer of [host, alice!]) {
      expect(peer.client.events('mutedByHost')).toEqual([]);
      expect(peer.client.events('unmuteRequested')).toEqual([]);
      expect(peer.client.events('roomSettings')).toEqual([]);
      expect(peer.client.events('roleChanged')).toEqual([]);
      expect(peer.client.events('roomClosed')).toEqual([]);
    }
  });

  it('a webinar viewer is refused every one; a webinar host cannot make co-hosts or pass host on', async () => {
    const creator = await TestClient.connect(t.url);
    const keys = await creator.ok('createWebinar', {});
    creator.close();
    const host = await join(t.url, keys.roomId, 'Hana', { key: keys.hostKey, publish: true });
    const viewer = await join(t.url, keys.roomId, 'Vera', { key: keys.audienceKey });
    const walt = await join(t.url, keys.roomId, 'Walt', { key: keys.audienceKey });
    for (const [name, payload] of [...hostPowers(host.join.peerId, walt.join.peerId), ...hostPowers(walt.join.peerId, walt.join.peerId)]) {
      expect(await viewer.client.send(name, payload), name).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    }
    const webinar = room(keys.roomId);
    expect(webinar.closed).toBe(false);
    expect(webinar.peers.size).toBe(3);
    expect(serverPeer(keys.roomId, host.join.peerId).producers.get(host.producers.audio!)!.paused).toBe(false);
    expect(webinar.moderation.settings).toEqual({ locked: false, lobby: false, fileSharing: 'everyone' });
    expect(host.client.events('mutedByHost')).toEqual([]);

    expect(await host.client.send('setParticipantRole', { peerId: walt.join.peerId, role: 'cohost' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await host.client.send('transferHost', { peerId: walt.join.peerId })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(serverPeer(keys.roomId, walt.join.peerId).role).toBe('viewer');
    // The webinar's host does have the shared powers.
    await host.client.ok('removeParticipant', { peerId: walt.join.peerId });
    expect(await walt.client.waitFor('roomClosed')).toEqual({ reason: 'removed', byName: 'Hana' });
  });
});

describe('after a restart on the same data dir', () => {
  const dataDirs: string[] = [];
  afterAll(() => {
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('co-hosts, hosts and host mutes come back with their resume tokens, removed people stay out, settings persist', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'roundtable-moderation-'));
    dataDirs.push(dataDir);
    const roomId = nextRoom();
    const first = await startTestServer({ store: { dataDir } });
    let hana: JoinReply, alice: JoinReply, bob: JoinReply, eve: JoinReply;
    try {
      const host = await joinPeer(first.url, roomId, 'Hana', { publish: true });
      const a = await joinPeer(first.url, roomId, 'Alice');
      const b = await joinPeer(first.url, roomId, 'Bob', { publish: true });
      const e = await joinPeer(first.url, roomId, 'Eve');
      [hana, alice, bob, eve] = [host.join, a.join, b.join, e.join];
      expect(hana.role).toBe('host');
      await host.client.ok('setParticipantRole', { peerId: alice.peerId, role: 'cohost' });
      await host.client.ok('muteParticipant', { peerId: bob.peerId });
      await host.client.ok('removeParticipant', { peerId: eve.peerId });
      await host.client.ok('setRoomSettings', { locked: true, lobby: true });
      for (const p of [host, a, b, e]) p.client.close();
    } finally {
      await first.close();
    }

    const second = await startTestServer({ store: { dataDir } });
    const clients: TestClient[] = [];
    const resume = (reply: JoinReply) => ({ peerId: reply.peerId, token: reply.resumeToken, transportIds: [] });
    try {
      // Stored identities pass the lock and the lobby.
      const a = await joinPeer(second.url, roomId, 'Alice', { resume: resume(alice) });
      clients.push(a.client);
      expect(a.join).toMatchObject({ peerId: alice.peerId, role: 'cohost', resumed: false, roomSettings: { locked: true, lobby: true }, lobby: [] });
      const b = await joinPeer(second.url, roomId, 'Bob', { resume: resume(bob), publish: true });
      clients.push(b.client);
      expect(b.join).toMatchObject({ peerId: bob.peerId, role: 'participant' });
      const room2 = second.server.registry.get(roomId)!;
      expect(room2.peers.get(bob.peerId)!.producers.get(b.producers.audio!)!.paused).toBe(true);
      expect(await b.client.waitFor('mutedByHost')).toEqual({ source: 'microphone', byName: 'A host' });
      const h = await joinPeer(second.url, roomId, 'Hana', { resume: resume(hana) });
      clients.push(h.client);
      expect(h.join).toMatchObject({ peerId: hana.peerId, role: 'host' });

      const removed = await TestClient.connect(second.url);
      clients.push(removed);
      expect(await removed.send('join', { roomId, displayName: 'Eve', resume: resume(eve) })).toMatchObject({ ok: false, error: { code: 'REMOVED' } });
      const plain = await TestClient.connect(second.url);
      clients.push(plain);
      expect(await plain.send('join', { roomId, displayName: 'Pat' })).toMatchObject({ ok: false, error: { code: 'ROOM_LOCKED' } });
      expect(room2.peers.size).toBe(3);
    } finally {
      for (const client of clients) client.close();
      await second.close();
    }
  });
});
