import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { JoinReply, MeetingKeys, Reply, WebinarKeys } from '../../shared/index.ts';
import { STORE_FILE } from '../../sfu/src/store/RoomStore.ts';
import { TestClient } from '../helpers/client.ts';
import { EntryPoint } from '../helpers/entry-point.ts';
import { startTestServer } from '../helpers/server.ts';

const dataDirs: string[] = [];
function newDataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'roundtable-durable-'));
  dataDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

async function createWebinar(url: string): Promise<WebinarKeys> {
  const client = await TestClient.connect(url);
  try {
    return await client.ok('createWebinar', {});
  } finally {
    client.close();
  }
}

async function createMeeting(url: string): Promise<MeetingKeys> {
  const client = await TestClient.connect(url);
  try {
    return await client.ok('createMeeting', {});
  } finally {
    client.close();
  }
}

async function join(url: string, roomId: string, key?: string): Promise<Reply<JoinReply>> {
  const client = await TestClient.connect(url);
  try {
    return await client.send('join', { roomId, displayName: 'Dee', ...(key ? { key } : {}) });
  } finally {
    client.close();
  }
}

/** Every byte the store left in its directory: the database and any WAL or shared-memory file. */
function storeBytes(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).map((name) => readFileSync(path.join(dir, name))));
}

function storedRoomCount(dir: string): number {
  const db = new Database(path.join(dir, STORE_FILE), { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM rooms').pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('webinar links survive a restart', () => {
  it('host and audience keys keep their roles on a new server over the same data dir; wrong keys are still refused', async () => {
    const dataDir = newDataDir();
    const first = await startTestServer({ store: { dataDir } });
    let keys: WebinarKeys;
    try {
      keys = await createWebinar(first.url);
      // The process that made the links can show them to the host.
      expect(await join(first.url, keys.roomId, keys.hostKey)).toMatchObject({ ok: true, data: { role: 'host', webinarKeys: keys } });
    } finally {
      await first.close();
    }

    const second = await startTestServer({ store: { dataDir } });
    try {
      const host = await join(second.url, keys.roomId, keys.hostKey);
      expect(host).toMatchObject({ ok: true, data: { kind: 'webinar', role: 'host' } });
      // Only hashes were stored: after a restart the server has no plain keys to show.
      expect(host.ok && host.data.webinarKeys).toBeUndefined();
      expect(await join(second.url, keys.roomId, keys.audienceKey)).toMatchObject({ ok: true, data: { kind: 'webinar', role: 'viewer' } });
      const wrongKey = keys.hostKey.slice(0, -1) + (keys.hostKey.endsWith('A') ? 'B' : 'A');
      for (const key of [undefined, wrongKey, 'x'.repeat(24)]) {
        expect(await join(second.url, keys.roomId, key)).toMatchObject({ ok: false, error: { code: 'INVALID_LINK' } });
      }
      // A new webinar on the restarted server works as before.
      const fresh = await createWebinar(second.url);
      expect(await join(second.url, fresh.roomId, fresh.hostKey)).toMatchObject({ ok: true, data: { role: 'host', webinarKeys: fresh } });
    } finally {
      await second.close();
    }
  });

  it('the data dir holds the keys\' hashes and never the keys (webinars and meetings), while running and after close', async () => {
    const dataDir = newDataDir();
    const server = await startTestServer({ store: { dataDir } });
    const keys = await createWebinar(server.url);
    const meeting = await createMeeting(server.url);
    const check = () => {
      const bytes = storeBytes(dataDir);
      for (const key of [keys.hostKey, keys.audienceKey, meeting.hostKey]) {
        const raw = Buffer.from(key, 'base64url');
        for (const form of [Buffer.from(key), Buffer.from(raw.toString('base64')), raw, Buffer.from(raw.toString('hex'))]) {
          expect(bytes.includes(form), `${key} stored as ${form.toString()}`).toBe(false);
        }
        // The control: this is the right file, and it does hold what stands for the key.
        expect(bytes.includes(createHash('sha256').update(key).digest())).toBe(true);
      }
    };
    try {
      check(); // the live database and its write-ahead log
    } finally {
      await server.close();
    }
    check(); // the file a stopped server leaves
    expect(readdirSync(dataDir)).toEqual([STORE_FILE]);
  });

  it('a webinar idle for longer than rooms.idleExpiryHours is gone after a restart', async () => {
    const dataDir = newDataDir();
    const first = await startTestServer({ store: { dataDir } });
    let keys: WebinarKeys;
    try {
      keys = await createWebinar(first.url);
    } finally {
      await first.close();
    }
    expect(storedRoomCount(dataDir)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_200));

    const second = await startTestServer({ store: { dataDir }, rooms: { idleExpiryHours: 1 / 3600 } }); // one second
    try {
      expect(storedRoomCount(dataDir)).toBe(0); // the start-up sweep deleted it
      expect(await join(second.url, keys.roomId, keys.hostKey)).toMatchObject({ ok: false, error: { code: 'INVALID_LINK' } });
      expect(await join(second.url, keys.roomId, keys.audienceKey)).toMatchObject({ ok: false, error: { code: 'INVALID_LINK' } });
    } finally {
      await second.close();
    }
  });
});

describe('a data dir that cannot be used stops the server at startup, naming store.dataDir', () => {
  it.each([
    ['a regular file', (dir: string) => {
      writeFileSync(path.join(dir, 'not-a-dir'), 'x');
      return path.join(dir, 'not-a-dir');
    }],
    ['a database file that is not SQLite', (dir: string) => {
      writeFileSync(path.join(dir, STORE_FILE), Buffer.alloc(8192, 'corrupt '));
      return dir;
    }],
    ['a database path that is a directory', (dir: string) => {
      mkdirSync(path.join(dir, STORE_FILE));
      return dir;
    }],
  ])('%s', async (_, prepare) => {
    const dataDir = prepare(newDataDir());
    await expect(startTestServer({ store: { dataDir } })).rejects.toThrow(/store\.dataDir \(ROUNDTABLE_DATA_DIR\)/);
  });

  it('a database from a newer Roundtable (schema version ahead) is refused, not overwritten', async () => {
    const dataDir = newDataDir();
    await (await startTestServer({ store: { dataDir } })).close();
    const db = new Database(path.join(dataDir, STORE_FILE));
    db.prepare('UPDATE schema_version SET version = 999').run();
    db.close();
    await expect(startTestServer({ store: { dataDir } })).rejects.toThrow(/store\.dataDir \(ROUNDTABLE_DATA_DIR\): the database has schema version 999/);
  });
});

describe('the real process', () => {
  it('a meeting and a webinar made by one `npm start` process work from the next one, host links included', async () => {
    const dataDir = path.join(newDataDir(), 'created-on-first-start');
    const first = new EntryPoint(dataDir);
    let keys: WebinarKeys;
    let meeting: MeetingKeys;
    try {
      const url = await first.ready;
      keys = await createWebinar(url);
      meeting = await createMeeting(url);
      expect(await join(url, meeting.roomId, meeting.hostKey)).toMatchObject({ ok: true, data: { kind: 'meeting', role: 'host', meetingKeys: meeting } });
    } finally {
      expect(await first.stop()).toBe(0);
    }
    expect(readdirSync(dataDir)).toEqual([STORE_FILE]);

    const second = new EntryPoint(dataDir);
    try {
      const url = await second.ready;
      expect(await join(url, keys.roomId, keys.hostKey)).toMatchObject({ ok: true, data: { role: 'host' } });
      expect(await join(url, keys.roomId, keys.audienceKey)).toMatchObject({ ok: true, data: { role: 'viewer' } });
      expect(await join(url, keys.roomId, 'y'.repeat(24))).toMatchObject({ ok: false, error: { code: 'INVALID_LINK' } });
      // The meeting: its host link still makes a host, the bare invite link a participant, and a
      // wrong key is refused (the restarted process holds only the key's hash: no keys to show).
      const host = await join(url, meeting.roomId, meeting.hostKey);
      expect(host).toMatchObject({ ok: true, data: { kind: 'meeting', role: 'host' } });
      expect(host.ok && host.data.meetingKeys).toBeUndefined();
      expect(await join(url, meeting.roomId)).toMatchObject({ ok: true, data: { kind: 'meeting', role: 'participant' } });
      expect(await join(url, meeting.roomId, 'y'.repeat(24))).toMatchObject({ ok: false, error: { code: 'INVALID_LINK' } });
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });

  it('a corrupt data dir makes the process exit with a message naming store.dataDir', async () => {
    const dataDir = newDataDir();
    writeFileSync(path.join(dataDir, STORE_FILE), Buffer.alloc(8192, 'corrupt '));
    const server = new EntryPoint(dataDir);
    expect(await server.exited).toBe(1);
    const output = server.output.join('\n');
    expect(output).toContain('store.dataDir (ROUNDTABLE_DATA_DIR)');
    expect(output).toContain(path.join(dataDir, STORE_FILE));
  });

  it('a data dir the server cannot write makes the process exit with a message naming store.dataDir', async () => {
    const dataDir = newDataDir();
    chmodSync(dataDir, 0o555);
    // Root writes anywhere: as root, run the server as nobody (the directory is root's).
    const server = new EntryPoint(dataDir, { asNobody: process.getuid?.() === 0 });
    expect(await server.exited).toBe(1);
    expect(server.output.join('\n')).toMatch(/store\.dataDir \(ROUNDTABLE_DATA_DIR\): SQLITE_CANTOPEN/);
  });
});
