/**
 * File sharing against a real server: a real mediasoup worker, real Socket.IO on loopback, real files
 * on disk. Signaling (offer, fetch, cancel, the events) goes through Socket.IO as a browser sends it;
 * the data channels' browser ends are DirectTransports on each peer's router (tests/helpers/file-channels.ts),
 * so every chunk still crosses the worker and meets the server's checks. The browser's own SCTP path
 * is covered by tests/e2e/file-sharing.spec.ts.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILE_CHUNK_PAYLOAD_BYTES, type SharedFileInfo, encodeFileChunk } from '../../shared/index.ts';
import { removeStaleFileFolders } from '../../sfu/src/files/FileStore.ts';
import { TestClient } from '../helpers/client.ts';
import { type DownloadEnd, type UploadEnd, openDownloadEnd, openUploadEnd, sha256 } from '../helpers/file-channels.ts';
import { type TestPeer, joinPeer } from '../helpers/meeting.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const LIMITS = { maxFileBytes: 1 * MiB, maxRoomBytes: 3 * MiB, maxFilesPerRoom: 6, offersPerMinute: 12 };

let t: TestServer;
let filesDir: string;
let n = 0;
const nextRoom = () => `files-${++n}`;
const open: Array<{ close(): void }> = [];

beforeAll(async () => {
  filesDir = mkdtempSync(path.join(os.tmpdir(), 'roundtable-test-files-'));
  t = await startTestServer({ files: { ...LIMITS, dir: filesDir } });
});
afterAll(async () => {
  for (const thing of open.reverse()) thing.close();
  await t.close();
  rmSync(filesDir, { recursive: true, force: true });
});

const room = (roomId: string) => t.server.registry.get(roomId)!;

async function join(roomId: string, name: string, options: Parameters<typeof joinPeer>[3] = {}, url = t.url): Promise<TestPeer> {
  const peer = await joinPeer(url, roomId, name, options);
  open.push(peer.client);
  return peer;
}

async function uploadEnd(roomId: string, peer: TestPeer): Promise<UploadEnd> {
  const end = await openUploadEnd(room(roomId), peer.join.peerId);
  open.push(end);
  return end;
}

async function downloadEnd(roomId: string, peer: TestPeer): Promise<DownloadEnd> {
  const end = await openDownloadEnd(room(roomId), peer.join.peerId);
  open.push(end);
  return end;
}

async function offer(peer: TestPeer, name: string, size: number): Promise<SharedFileInfo> {
  return (await peer.client.ok('offerFile', { name, size })).file;
}

describe('a file shared in a meeting', () => {
  it('goes up once and reaches everyone present, byte for byte, with the hash the server announces', async () => {
    const roomId = nextRoom();
    const alice = await join(roomId, 'Alice');
    const [bob, cai] = [await join(roomId, 'Bob'), await join(roomId, 'Cai')];
    const content = randomBytes(300 * KiB + 123);
    const up = await uploadEnd(roomId, alice);

    const file = await offer(alice, 'quarterly report.pdf', content.length);
    expect(file).toMatchObject({ name: 'quarterly report.pdf', size: content.length, peerId: alice.join.peerId, displayName: 'Alice', state: 'uploading' });
    expect(file.sha256).toBeUndefined();
    // Receivers hear of it, and fetch it before a byte has been uploaded: they get it as it arrives.
    const downs: DownloadEnd[] = [];
    for (const receiver of [bob, cai]) {
      expect((await receiver.client.waitFor('fileOffered')).file).toEqual(file);
      downs.push(await downloadEnd(roomId, receiver));
      await receiver.client.ok('fetchFile', { fileId: file.id });
    }
    up.all(file.id, content.subarray(0, 100 * KiB));
    for (const down of downs) await down.waitForBytes(file.id, 100 * KiB);
    expect(room(roomId).files.list()[0]!.state).toBe('uploading');

    up.all(file.id, content, 100 * KiB);
    const expected = sha256(content);
    for (const peer of [alice, bob, cai]) expect(await peer.client.waitFor('fileAvailable')).toEqual({ fileId: file.id, sha256: expected });
    for (const down of downs) {
      expect(sha256(await down.waitForBytes(file.id, content.length))).toBe(expected);
      expect(down.outOfOrder).toBe(0);
    }
    expect(alice.client.events('fileProgress').length).toBeGreaterThan(0);
    expect(alice.client.events('fileProgress').every((e) => e.fileId === file.id && e.stored <= content.length)).toBe(true);
    // Stored once, under the server's own id.
    const { dir } = room(roomId).files.stats();
    expect(readdirSync(dir!)).toEqual([file.id]);
    expect(sha256(readFileSync(path.join(dir!, file.id)))).toBe(expected);
    expect(room(roomId).files.stats().rejectedChunks).toBe(0);
  });

  it('is offered to a late joiner, who downloads it (and resumes from an offset) with the same hash', async () => {
    const roomId = nextRoom();
    const alice = await join(roomId, 'Alice');
    const content = randomBytes(200 * KiB);
    const up = await uploadEnd(roomId, alice);
    const file = await offer(alice, 'slides.odp', content.length);
    up.all(file.id, content);
    const { sha256: hash } = await alice.client.waitFor('fileAvailable');

    const dave = await join(roomId, 'Dave');
    expect(dave.join.files).toEqual([{ ...file, state: 'available', sha256: hash }]);
    const down = await downloadEnd(roomId, dave);
    await dave.client.ok('fetchFile', { fileId: file.id });
    expect(sha256(await down.waitForBytes(file.id, content.length))).toBe(hash);

    // A download that broke off goes on from where it stopped.
    const erin = await join(roomId, 'Erin');
    const resumed = await downloadEnd(roomId, erin);
    await erin.client.ok('fetchFile', { fileId: file.id, offset: 150 * KiB });
    expect(Buffer.compare(await resumed.waitForBytes(file.id, 50 * KiB), content.subarray(150 * KiB))).toBe(0);
    expect(resumed.startOf.get(file.id)).toBe(150 * KiB);
  });

  it('cannot be fetched without a download channel, nor when it does not exist', async () => {
    const roomId = nextRoom();
    const alice = await join(roomId, 'Alice');
    const bob = await join(roomId, 'Bob');
    const file = await offer(alice, 'a.txt', 10);
    expect(await bob.client.send('fetchFile', { fileId: file.id })).toMatchObject({ ok: false, error: { code: 'NOT_READY' } });
    await downloadEnd(roomId, bob);
    expect(await bob.client.send('fetchFile', { fileId: '3b241101-e2bb-4255-8caf-4136c566a962' })).toMatchObject({ ok: false, error: { code: 'FILE_NOT_FOUND' } });
    expect(await bob.client.send('fetchFile', { fileId: file.id, offset: 11 })).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
    expect(await bob.client.send('fetchFile', { fileId: 'not-a-uuid' })).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
  });
});

describe('limits and names', () => {
  it('refuses a file over the size limit with FILE_TOO_LARGE and a message naming the limit', async () => {
    const alice = await join(nextRoom(), 'Alice');
    const reply = await alice.client.send('offerFile', { name: 'video.mkv', size: LIMITS.maxFileBytes + 1 });
    expect(reply).toEqual({ ok: false, error: { code: 'FILE_TOO_LARGE', message: '"video.mkv" is 1.0 MiB; files of at most 1 MiB can be shared here' } });
    expect(await alice.client.send('offerFile', { name: 'empty.txt', size: 0 })).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
  });

  it('cleans names of paths, control and bidi characters, for the sender and everyone else', async () => {
    const roomId = nextRoom();
    const alice = await join(roomId, 'Alice');
    const bob = await join(roomId, 'Bob');
    const cases: Array<[string, string]> = [
      ['../../etc/passwd', 'passwd'],
      ['..\\..\\Windows\\win.ini', 'win.ini'],
      ['evil\u0000na\u0007me\r\n.txt', 'evilname.txt'],
      ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
      ['..', 'file'],
    ];
    for (const [claimed, clean] of cases) {
      const file = await offer(alice, claimed, 10);
      expect(file.name).toBe(clean);
      expect((await bob.client.waitFor('fileOffered', (e) => e.file.id === file.id)).file.name).toBe(clean);
      await alice.client.ok('cancelFile', { fileId: file.id });
    }
  });

  it('limits offers per participant per minute (RATE_LIMITED), not per room', async () => {
    const roomId = nextRoom();
    const alice = await join(roomId, 'Alice');
    const bob = await join(roomId, 'Bob');
    for (let i = 0; i < LIMITS.offersPerMinute; i++) await alice.client.ok('cancelFile', { fileId: (await offer(alice, `f${i}`, 1)).id });
    expect(await alice.client.send('offerFile', { name: 'one-more', size: 1 })).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED', message: `at most ${LIMITS.offersPerMinute} files a minute; try again shortly` } });
    expect(await bob.client.send('offerFile', { name: 'bobs', size: 1 })).toMatchObject({ ok: true });
  });

  it('caps the room\'s storage (uploads count at their declared size) and its number of files; removing one frees its space', async () => {
    const roomId = nextRoom();
    const [alice, bob, cai] = [await join(roomId, 'Alice'), await join(roomId, 'Bob'), await join(roomId, 'Cai')];
    const big = [await offer(alice, 'a', LIMITS.maxFileBytes), await offer(bob, 'b', LIMITS.maxFileBytes), await offer(cai, 'c', LIMITS.maxFileBytes)];
    const full = await alice.client.send('offerFile', { name: 'd', size: 1 });
    expect(full).toMatchObject({ ok: false, error: { code: 'FILES_STORAGE_FULL' } });
    expect(full.ok === false && full.error.message).toBe('this meeting\'s files are limited to 3 MiB and only 0 B is left');
    expect(room(roomId).files.stats().reservedBytes).toBe(3 * MiB);

    // Only the sender (or a host) takes a file back; Alice is the host of this meeting.
    expect(await cai.client.send('cancelFile', { fileId: big[1]!.id })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    await alice.client.ok('cancelFile', { fileId: big[1]!.id });
    expect(await bob.client.waitFor('fileCancelled', (e) => e.fileId === big[1]!.id)).toEqual({ fileId: big[1]!.id, reason: 'removed' });
    await cai.client.ok('cancelFile', { fileId: big[2]!.id });
    expect(room(roomId).files.stats().reservedBytes).toBe(1 * MiB);

    for (const peer of [bob, cai, bob, cai, bob]) await offer(peer, 'small', 1);
    expect(room(roomId).files.stats().files).toBe(LIMITS.maxFilesPerRoom);
    expect(await cai.client.send('offerFile', { name: 'seventh', size: 1 })).toMatchObject({
      ok: false,
      error: { code: 'FILES_STORAGE_FULL', message: `this meeting already holds ${LIMITS.maxFilesPerRoom} files, the most it can; remove one first` },
    });
  });

  it('lets a host restrict sharing to hosts; everyone hears it, and it is kept for the room', async () => {
    const roomId = nextRoom();
    const host = await join(roomId, 'Hana');
    const alice = await join(roomId, 'Alice');
    expect(alice.join.roomSettings.fileSharing).toBe('everyone');
    expect(await alice.client.send('setRoomSettings', { fileSharing: 'hosts' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await host.client.ok('setRoomSettings', { fileSharing: 'hosts' })).toEqual({ locked: false, lobby: false, fileSharing: 'hosts' });
    expect(await alice.client.waitFor('roomSettings')).toEqual({ locked: false, lobby: false, fileSharing: 'hosts', byName: 'Hana' });
    expect(await alice.client.send('offerFile', { name: 'x', size: 1 })).toEqual({
      ok: false,
      error: { code: 'FORBIDDEN', message: 'only hosts and co-hosts can share files in this meeting' },
    });
    await offer(host, 'agenda.md', 1);
    // Lock changes keep it; a room opened again later has it too (stored like lock and lobby).
    await host.client.ok('setRoomSettings', { locked: true });
    expect(room(roomId).moderation.settings.fileSharing).toBe('hosts');
    const resume = { peerId: host.join.peerId, token: host.join.resumeToken, transportIds: [] };
    host.client.close();
    alice.client.close();
    await expect.poll(() => t.server.registry.get(roomId)).toBeUndefined();
    const back = await join(roomId, 'Hana', { resume });
    expect(back.join.roomSettings).toEqual({ locked: true, lobby: false, fileSharing: 'hosts' });
  });
});

describe('chunks are checked', () => {
  it('a chunk naming someone else\'s file is refused: the forger\'s upload fails, the other\'s completes', async () => {
    const roomId = nextRoom();
    const alice = await join(roomId, 'Alice');
    const mallory = await join(roomId, 'Mallory');
    const bob = await join(roomId, 'Bob');
    const [aliceUp, malloryUp] = [await uploadEnd(roomId, alice), await uploadEnd(roomId, mallory)];
    const content = randomBytes(64 * KiB);
    const aliceFile = await offer(alice, 'real.bin', content.length);
    const malloryFile = await offer(mallory, 'cover.bin', 1000);
    aliceUp.all(aliceFile.id, content.subarray(0, 32 * KiB));
    // Mallory writes into Alice's file at the very offset it expects next.
    malloryUp.chunk(aliceFile.id, 32 * KiB, Buffer.alloc(FILE_CHUNK_PAYLOAD_BYTES, 0x41));

    expect(await mallory.client.waitFor('fileFailed')).toEqual({
      fileId: malloryFile.id,
      direction: 'upload',
      code: 'FILE_CHUNK_REJECTED',
      message: `a chunk was refused: file ${aliceFile.id} was shared by someone else`,
    });
    expect(await bob.client.waitFor('fileCancelled')).toEqual({ fileId: malloryFile.id, reason: 'failed' });
    aliceUp.all(aliceFile.id, content, 32 * KiB);
    expect((await alice.client.waitFor('fileAvailable')).sha256).toBe(sha256(content));
    expect(alice.client.events('fileFailed')).toEqual([]);
    expect(bob.client.events('fileCancelled').map((e) => e.fileId)).toEqual([malloryFile.id]);
    expect(room(roomId).files.list().map((f) => f.id)).toEqual([aliceFile.id]);
    expect(room(roomId).files.stats().rejectedChunks).toBe(1);
  });

  it('a gap, a repeat, a chunk past the declared size, a malformed or text message each fail the sender\'s upload', async () => {
    const roomId = nextRoom();
    const alice = await join(roomId, 'Alice');
    const bob = await join(roomId, 'Bob');
    const up = await uploadEnd(roomId, alice);
    const attempts: Array<[string, (fileId: string) => void, string]> = [
      ['gap', (id) => up.chunk(id, 100, Buffer.alloc(10)), 'expected offset 0, got 100'],
      ['repeat', (id) => { up.chunk(id, 0, Buffer.alloc(10)); up.chunk(id, 0, Buffer.alloc(10)); }, 'expected offset 10, got 0'],
      ['past the size', (id) => up.chunk(id, 0, Buffer.alloc(2000)), '2000 bytes is past the declared size of 1000'],
      ['too short', () => up.raw(Buffer.from([1, 2, 3])), 'a 3-byte message is too short for a chunk'],
      ['oversized', (id) => up.raw(Buffer.concat([Buffer.from(encodeFileChunk(id, 0, Buffer.alloc(10))).subarray(0, 25), Buffer.alloc(FILE_CHUNK_PAYLOAD_BYTES + 1)])), 'a chunk carries at most 16384 bytes, this one 16385'],
      ['wrong version', (id) => { const m = Buffer.from(encodeFileChunk(id, 0, Buffer.alloc(10))); m[0] = 9; up.raw(m); }, 'unknown chunk format version 9'],
      ['text', () => up.raw('hello'), 'a message with payload protocol 51 is not a binary chunk'],
      ['unknown file', () => up.chunk('3b241101-e2bb-4255-8caf-4136c566a962', 0, Buffer.alloc(10)), 'no file 3b241101-e2bb-4255-8caf-4136c566a962 in this room'],
    ];
    for (const [what, send, reason] of attempts) {
      const file = await offer(alice, `${what}.bin`, 1000);
      send(file.id);
      const failed = await alice.client.waitFor('fileFailed', (e) => e.fileId === file.id);
      expect(failed, what).toEqual({ fileId: file.id, direction: 'upload', code: 'FILE_CHUNK_REJECTED', message: `a chunk was refused: ${reason}` });
      expect(await bob.client.waitFor('fileCancelled', (e) => e.fileId === file.id)).toEqual({ fileId: file.id, reason: 'failed' });
    }
    expect(room(roomId).files.stats()).toMatchObject({ files: 0, reservedBytes: 0, rejectedChunks: attempts.length });
  }, 60_000);

  it('chunks still on the way after a cancel are dropped quietly, without failing the sender\'s other uploads', async () => {
    const roomId = nextRoom();
    const alice = await join(roomId, 'Alice');
    const up = await uploadEnd(roomId, alice);
    const first = await offer(alice, 'first', 100 * KiB);
    const second = await offer(alice, 'second', 10);
    up.chunk(first.id, 0, Buffer.alloc(FILE_CHUNK_PAYLOAD_BYTES));
    await alice.client.ok('cancelFile', { fileId: first.id });
    up.chunk(first.id, FILE_CHUNK_PAYLOAD_BYTES, Buffer.alloc(FILE_CHUNK_PAYLOAD_BYTES));
    up.chunk(second.id, 0, Buffer.alloc(10));
    await alice.client.waitFor('fileAvailable', (e) => e.fileId === second.id);
    expect(alice.client.events('fileFailed')).toEqual([]);
    expect(room(roomId).files.stats().rejectedChunks).toBe(0);
  });
});

describe('the room owns its files', () => {
  it('a leaver\'s upload in progress is cancelled for everyone; its finished files stay for the room', async () => {
    const roomId = nextRoom();
    const alice = await join(roomId, 'Alice');
    const bob = await join(roomId, 'Bob');
    const up = await uploadEnd(roomId, alice);
    const done = randomBytes(20 * KiB);
    const finished = await offer(alice, 'finished.txt', done.length);
    up.all(finished.id, done);
    await bob.client.waitFor('fileAvailable');
    const half = await offer(alice, 'half.iso', 100 * KiB);
    up.all(half.id, randomBytes(100 * KiB).subarray(0, 50 * KiB));

    alice.client.close();
    expect(await bob.client.waitFor('fileCancelled')).toEqual({ fileId: half.id, reason: 'sender-left' });
    expect(room(roomId).files.list().map((f) => [f.name, f.state, f.displayName])).toEqual([['finished.txt', 'available', 'Alice']]);
    const later = await join(roomId, 'Later');
    expect(later.join.files.map((f) => f.id)).toEqual([finished.id]);
    const down = await downloadEnd(roomId, later);
    await later.client.ok('fetchFile', { fileId: finished.id });
    expect(sha256(await down.waitForBytes(finished.id, done.length))).toBe(sha256(done));
    await expect.poll(() => existsSync(path.join(room(roomId).files.stats().dir!, half.id))).toBe(false);
  });

  it('the room\'s folder, with every file in it, is deleted when the room closes', async () => {
    const roomId = nextRoom();
    const alice = await join(roomId, 'Alice');
    const up = await uploadEnd(roomId, alice);
    const content = randomBytes(40 * KiB);
    const file = await offer(alice, 'notes.txt', content.length);
    up.all(file.id, content);
    await alice.client.waitFor('fileAvailable');
    await offer(alice, 'unfinished.txt', 1000);
    const { dir } = room(roomId).files.stats();
    expect(path.dirname(dir!)).toBe(filesDir);
    // The second file is created on disk as its offer is handled (asynchronously: slower under load).
    await expect.poll(() => readdirSync(dir!).length).toBe(2);

    alice.client.close();
    await expect.poll(() => t.server.registry.get(roomId)).toBeUndefined();
    await expect.poll(() => existsSync(dir!)).toBe(false);
  });

  it('an upload that stops sending fails after the idle timeout, and its space is freed', async () => {
    const idle = await startTestServer({ files: { uploadIdleTimeoutMs: 1_000 } });
    try {
      const roomId = nextRoom();
      const alice = await join(roomId, 'Alice', {}, idle.url);
      const file = (await alice.client.ok('offerFile', { name: 'stalled.bin', size: 1000 })).file;
      expect(await alice.client.waitFor('fileFailed', () => true, 3_000)).toEqual({
        fileId: file.id, direction: 'upload', code: 'FILE_UPLOAD_FAILED', message: 'no data arrived for 1 s',
      });
      expect(idle.server.registry.get(roomId)!.files.stats().reservedBytes).toBe(0);
    } finally {
      await idle.close();
    }
  });

  it('with file sharing switched off, offers and channels are refused with FILE_SHARING_DISABLED', async () => {
    const off = await startTestServer({ files: { enabled: false } });
    try {
      const alice = await join(nextRoom(), 'Alice', {}, off.url);
      expect(alice.join.settings.files).toEqual({ enabled: false, maxFileBytes: 100 * MiB });
      expect(await alice.client.send('offerFile', { name: 'x', size: 1 })).toMatchObject({ ok: false, error: { code: 'FILE_SHARING_DISABLED' } });
      expect(await alice.client.send('openFileDownload', {})).toMatchObject({ ok: false, error: { code: 'FILE_SHARING_DISABLED' } });
    } finally {
      await off.close();
    }
  });

  it('in a webinar the stage shares and viewers only receive', async () => {
    const maker = await TestClient.connect(t.url);
    const keys = await maker.ok('createWebinar', {});
    maker.close();
    const host = await join(keys.roomId, 'Host', { key: keys.hostKey });
    const viewer = await join(keys.roomId, 'Viewer', { key: keys.audienceKey });
    expect(await viewer.client.send('offerFile', { name: 'x', size: 1 })).toEqual({ ok: false, error: { code: 'FORBIDDEN', message: 'viewers cannot share files' } });
    const file = await offer(host, 'handout.pdf', 10);
    expect((await viewer.client.waitFor('fileOffered')).file.id).toBe(file.id);
    const down = await downloadEnd(keys.roomId, viewer);
    await viewer.client.ok('fetchFile', { fileId: file.id });
    (await uploadEnd(keys.roomId, host)).chunk(file.id, 0, Buffer.from('0123456789'));
    expect((await down.waitForBytes(file.id, 10)).toString()).toBe('0123456789');
  });
});

describe('removeStaleFileFolders', () => {
  it('removes the room folders of server processes that are gone, and nothing else', () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'roundtable-test-stale-'));
    try {
      const gone = spawnSync(process.execPath, ['-e', '']).pid!;
      for (const name of [`roundtable-files-${gone}-abc123`, `roundtable-files-${process.pid}-def456`, 'unrelated']) mkdirSync(path.join(parent, name));
      removeStaleFileFolders(parent, pino({ level: 'silent' }));
      expect(readdirSync(parent).sort()).toEqual([`roundtable-files-${process.pid}-def456`, 'unrelated']);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
