import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RoomDirectory } from '../../sfu/src/access/RoomDirectory.ts';
import { RoomStore, STORE_FILE } from '../../sfu/src/store/RoomStore.ts';
import { MIGRATIONS } from '../../sfu/src/store/migrations.ts';

const HOUR = 3_600_000;
let dataDir: string;
let clock: number;
const open: RoomDirectory[] = [];

/** A directory over the store in `dataDir`, as a (re)started server would open it. */
function directory(idleExpiryMs = 10 * HOUR): RoomDirectory {
  const webinars = new RoomDirectory(RoomStore.open(dataDir), { idleExpiryMs, now: () => clock });
  open.push(webinars);
  return webinars;
}

beforeEach(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'roundtable-unit-store-'));
  clock = Date.UTC(2026, 0, 1);
});
afterEach(() => {
  for (const webinars of open.splice(0)) webinars.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('RoomDirectory over the RoomStore', () => {
  it('plain keys are shown only by the process that made them; roles work from any process', () => {
    const before = directory();
    const keys = before.createWebinar();
    expect(before.webinarKeys(keys.roomId)).toEqual(keys);
    before.close();
    expect(() => before.close()).not.toThrow();

    const after = directory();
    expect(after.isWebinar(keys.roomId)).toBe(true);
    expect(after.webinarKeys(keys.roomId)).toBeUndefined();
    expect(after.roleFor(keys.roomId, keys.hostKey)).toBe('host');
    expect(after.roleFor(keys.roomId, keys.audienceKey)).toBe('viewer');
    expect(() => after.roleFor(keys.roomId, keys.hostKey + 'x')).toThrow(expect.objectContaining({ code: 'INVALID_LINK' }));
    expect(() => after.roleFor('w-unknown', keys.hostKey)).toThrow(expect.objectContaining({ code: 'INVALID_LINK' }));
  });

  it('a join with a valid key keeps a webinar alive; idle ones expire and are swept', () => {
    const webinars = directory(10 * HOUR);
    const used = webinars.createWebinar();
    const unused = webinars.createWebinar();
    clock += 9 * HOUR;
    expect(webinars.roleFor(used.roomId, used.audienceKey)).toBe('viewer'); // activity
    clock += 2 * HOUR; // 11 h after creation, 2 h after the join
    // Still a webinar id: its links are refused, and it never becomes an open meeting.
    expect(webinars.isWebinar(unused.roomId)).toBe(true);
    expect(webinars.isWebinar('k7dm-qw3x-9fhp-a2rt')).toBe(false);
    expect(() => webinars.roleFor(unused.roomId, unused.hostKey)).toThrow(expect.objectContaining({ code: 'INVALID_LINK' }));
    expect(webinars.webinarKeys(unused.roomId)).toBeUndefined();
    expect(webinars.roleFor(used.roomId, used.hostKey)).toBe('host');
    webinars.close();

    directory(10 * HOUR); // a restart sweeps
    const db = new Database(path.join(dataDir, STORE_FILE), { readonly: true });
    expect(db.prepare('SELECT id FROM rooms').pluck().all()).toEqual([used.roomId]);
    db.close();
  });

  it('a join storm writes the last-active time at most once a minute', () => {
    const webinars = directory();
    const keys = webinars.createWebinar();
    const lastActive = () => {
      const db = new Database(path.join(dataDir, STORE_FILE), { readonly: true });
      try {
        return db.prepare('SELECT last_active_at FROM rooms').pluck().get();
      } finally {
        db.close();
      }
    };
    const created = clock;
    clock += 30_000;
    webinars.roleFor(keys.roomId, keys.audienceKey);
    expect(lastActive()).toBe(created);
    clock += 60_000;
    webinars.roleFor(keys.roomId, keys.audienceKey);
    expect(lastActive()).toBe(clock);
  });

  it('meetings: a host key of their own, an id of the client\'s shape, and only hashes stored', () => {
    const rooms = directory();
    const meeting = rooms.createMeeting();
    expect(meeting.roomId).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
    expect(rooms.isWebinar(meeting.roomId)).toBe(false);
    expect(rooms.meetingKeys(meeting.roomId)).toEqual(meeting);
    expect(rooms.webinarKeys(meeting.roomId)).toBeUndefined();
    expect(rooms.roleFor(meeting.roomId, meeting.hostKey)).toBe('host');
    expect(() => rooms.roleFor(meeting.roomId, 'x'.repeat(24))).toThrow(expect.objectContaining({ code: 'INVALID_LINK' }));
    // A meeting opened by id has no host key at all: no key makes anyone host there.
    const adHoc = rooms.ensureStored('typed-by-hand', 'meeting');
    expect(adHoc).toMatchObject({ kind: 'meeting', hostKeyHash: null, lobby: false, locked: false });
    expect(() => rooms.roleFor('typed-by-hand', meeting.hostKey)).toThrow(expect.objectContaining({ code: 'INVALID_LINK' }));
    expect(rooms.ensureStored('typed-by-hand', 'webinar').kind).toBe('meeting'); // a stored room keeps its kind
  });

  it('settings and members persist across a reopen; a member is found only with its own resume token', () => {
    const before = directory();
    const { roomId } = before.createMeeting();
    before.saveSettings(roomId, { locked: true, lobby: true });
    before.saveMember(roomId, { peerId: 'p1', token: 't'.repeat(32), displayName: 'Ada', role: 'cohost', micMuted: true, removed: false });
    before.close();

    const after = directory();
    expect(after.settings(roomId)).toEqual({ locked: true, lobby: true });
    expect(after.member(roomId, 'p1', 't'.repeat(32))).toMatchObject({ role: 'cohost', micMuted: true, removed: false, displayName: 'Ada' });
    expect(after.member(roomId, 'p1', 'u'.repeat(32))).toBeUndefined();
    expect(after.members(roomId)).toHaveLength(1);
    after.forgetMember(roomId, 'p1');
    expect(after.members(roomId)).toHaveLength(0);
  });

  it('an expired room takes its members with it', () => {
    const rooms = directory(10 * HOUR);
    const { roomId } = rooms.createMeeting();
    rooms.saveMember(roomId, { peerId: 'p1', token: 't'.repeat(32), displayName: 'Ada', role: 'host', micMuted: false, removed: false });
    clock += 11 * HOUR;
    rooms.close();
    directory(10 * HOUR); // the start-up sweep
    const db = new Database(path.join(dataDir, STORE_FILE), { readonly: true });
    expect(db.prepare('SELECT count(*) FROM members').pluck().get()).toBe(0);
    db.close();
  });

  it('the store is in WAL mode and records its schema version', () => {
    directory().close();
    const db = new Database(path.join(dataDir, STORE_FILE), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT version FROM schema_version').pluck().all()).toEqual([MIGRATIONS.length]);
    db.close();
    directory(); // reopening a current store changes nothing
  });
});
