import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebinarDirectory } from '../../sfu/src/rooms/WebinarDirectory.ts';
import { RoomStore, STORE_FILE } from '../../sfu/src/store/RoomStore.ts';
import { MIGRATIONS } from '../../sfu/src/store/migrations.ts';

const HOUR = 3_600_000;
let dataDir: string;
let clock: number;
const open: WebinarDirectory[] = [];

/** A directory over the store in `dataDir`, as a (re)started server would open it. */
function directory(idleExpiryMs = 10 * HOUR): WebinarDirectory {
  const webinars = new WebinarDirectory(RoomStore.open(dataDir), { idleExpiryMs, now: () => clock });
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

describe('WebinarDirectory over the RoomStore', () => {
  it('plain keys are shown only by the process that made them; roles work from any process', () => {
    const before = directory();
    const keys = before.create();
    expect(before.keys(keys.roomId)).toEqual(keys);
    before.close();
    expect(() => before.close()).not.toThrow();

    const after = directory();
    expect(after.isWebinar(keys.roomId)).toBe(true);
    expect(after.keys(keys.roomId)).toBeUndefined();
    expect(after.roleFor(keys.roomId, keys.hostKey)).toBe('host');
    expect(after.roleFor(keys.roomId, keys.audienceKey)).toBe('viewer');
    expect(() => after.roleFor(keys.roomId, keys.hostKey + 'x')).toThrow(expect.objectContaining({ code: 'INVALID_LINK' }));
    expect(() => after.roleFor('w-unknown', keys.hostKey)).toThrow(expect.objectContaining({ code: 'INVALID_LINK' }));
  });

  it('a join with a valid key keeps a webinar alive; idle ones expire and are swept', () => {
    const webinars = directory(10 * HOUR);
    const used = webinars.create();
    const unused = webinars.create();
    clock += 9 * HOUR;
    expect(webinars.roleFor(used.roomId, used.audienceKey)).toBe('viewer'); // activity
    clock += 2 * HOUR; // 11 h after creation, 2 h after the join
    // Still a webinar id: its links are refused, and it never becomes an open meeting.
    expect(webinars.isWebinar(unused.roomId)).toBe(true);
    expect(webinars.isWebinar('k7dm-qw3x-9fhp-a2rt')).toBe(false);
    expect(() => webinars.roleFor(unused.roomId, unused.hostKey)).toThrow(expect.objectContaining({ code: 'INVALID_LINK' }));
    expect(webinars.keys(unused.roomId)).toBeUndefined();
    expect(webinars.roleFor(used.roomId, used.hostKey)).toBe('host');
    webinars.close();

    directory(10 * HOUR); // a restart sweeps
    const db = new Database(path.join(dataDir, STORE_FILE), { readonly: true });
    expect(db.prepare('SELECT id FROM rooms').pluck().all()).toEqual([used.roomId]);
    db.close();
  });

  it('a join storm writes the last-active time at most once a minute', () => {
    const webinars = directory();
    const keys = webinars.create();
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

  it('the store is in WAL mode and records its schema version', () => {
    directory().close();
    const db = new Database(path.join(dataDir, STORE_FILE), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT version FROM schema_version').pluck().all()).toEqual([MIGRATIONS.length]);
    db.close();
    directory(); // reopening a current store changes nothing
  });
});
