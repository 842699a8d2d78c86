import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MeetingKeys } from '../../shared/index.ts';
import { TestClient } from '../helpers/client.ts';
import { EntryPoint, freePort } from '../helpers/entry-point.ts';
import { joinPeer } from '../helpers/meeting.ts';
import { startTestServer } from '../helpers/server.ts';

const dataDirs: string[] = [];
afterAll(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

const DEADLINE_MS = 8_000;
const REJOIN_WINDOW_MS = 45_000;

describe('SIGTERM: notice, clean exit, rejoin on the next process', () => {
  it('clients get the restart notice, the process exits 0 within the deadline, and host and participant rejoin the new process (the host as host)', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'roundtable-shutdown-'));
    dataDirs.push(dataDir);
    // The same port across the restart, as behind a service manager: the clients' URL does not change.
    const env = {
      PORT: String(await freePort()),
      ROUNDTABLE_ADMIN_PORT: '0',
      ROUNDTABLE_SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS),
      ROUNDTABLE_REJOIN_WINDOW_MS: String(REJOIN_WINDOW_MS),
    };
    const first = new EntryPoint(dataDir, { env });
    const url = await first.ready;
    const creator = await TestClient.connect(url);
    const meeting: MeetingKeys = await creator.ok('createMeeting', {});
    creator.close();
    const host = await joinPeer(url, meeting.roomId, 'Hana', { key: meeting.hostKey, publish: true });
    const guest = await joinPeer(url, meeting.roomId, 'Gus', { publish: true });
    expect(host.join.role).toBe('host');
    expect(guest.join.role).toBe('participant');
    await host.client.waitFor('consumerAdded', (e) => e.consumer.peerId === guest.join.peerId);

    const signalledAt = Date.now();
    first.signal('SIGTERM');
    for (const peer of [host, guest]) {
      expect(await peer.client.waitFor('roomClosed')).toEqual({ reason: 'shutdown', rejoinWithinMs: REJOIN_WINDOW_MS });
    }
    expect(await first.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(DEADLINE_MS);
    expect(first.output.join('\n')).not.toMatch(/deadline .* passed|uncaught/);
    // The notice came before the connection went: the clients' own reconnection takes it from here.
    for (const peer of [host, guest]) expect(peer.client.socket.connected).toBe(false);

    const second = new EntryPoint(dataDir, { env });
    try {
      expect(await second.ready).toBe(url);
      // As the browser does: same room, same name, same link key, and the stored resume credentials.
      const credentials = (peer: typeof host) => ({ peerId: peer.join.peerId, token: peer.join.resumeToken, transportIds: [] });
      const hostAgain = await joinPeer(url, meeting.roomId, 'Hana', { key: meeting.hostKey, resume: credentials(host), publish: true });
      expect(hostAgain.join).toMatchObject({ role: 'host', peerId: host.join.peerId, resumed: false });
      const guestAgain = await joinPeer(url, meeting.roomId, 'Gus', { resume: credentials(guest), publish: true });
      expect(guestAgain.join.role).toBe('participant');
      expect(guestAgain.join.peers.map((p) => [p.displayName, p.role])).toEqual([['Hana', 'host']]);
      // Media flows again on the new process, both ways.
      await hostAgain.client.waitFor('consumerAdded', (e) => e.consumer.peerId === guestAgain.join.peerId && e.consumer.kind === 'video');
      await guestAgain.client.waitFor('consumerAdded', (e) => e.consumer.peerId === host.join.peerId && e.consumer.kind === 'video');
      // Still host: host-only actions work.
      expect(await hostAgain.client.send('setRoomSettings', { locked: true })).toMatchObject({ ok: true });
      hostAgain.client.close();
      guestAgain.client.close();
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});

describe('shutdown in process', () => {
  it('joins during and after the shutdown get SHUTTING_DOWN; a waiting lobby join too; new connections are refused', async () => {
    const t = await startTestServer({ shutdown: { rejoinWindowMs: 30_000 } });
    const creator = await TestClient.connect(t.url);
    const meeting: MeetingKeys = await creator.ok('createMeeting', {});
    creator.close();
    const host = await joinPeer(t.url, meeting.roomId, 'Hana', { key: meeting.hostKey, ready: false });
    await host.client.ok('setRoomSettings', { lobby: true });
    const waiter = await TestClient.connect(t.url);
    const waiting = waiter.send('join', { roomId: meeting.roomId, displayName: 'Wren' });
    await host.client.waitFor('lobbyChanged', (e) => e.waiting.length === 1);
    const late = await TestClient.connect(t.url);

    const shutdown = t.server.shutdown();
    const lateJoin = late.send('join', { roomId: meeting.roomId, displayName: 'Lou' }).catch((error: unknown) => error);
    expect(await waiting).toMatchObject({ ok: false, error: { code: 'SHUTTING_DOWN' } });
    expect(await host.client.waitFor('roomClosed')).toEqual({ reason: 'shutdown', rejoinWithinMs: 30_000 });
    // The late join either got its answer or lost its connection with the rest; never a place.
    const lateReply = await lateJoin;
    if (!(lateReply instanceof Error)) expect(lateReply).toMatchObject({ ok: false, error: { code: 'SHUTTING_DOWN' } });
    await shutdown;
    expect(t.server.shutdownState()).toEqual({ step: 'done', connections: 0, rooms: 0 });
    await expect(TestClient.connect(t.url)).rejects.toThrow();
    expect(host.client.events('roomClosed')).toHaveLength(1); // one notice, not two
    await t.close(); // after a shutdown, close is harmless
  });
});
