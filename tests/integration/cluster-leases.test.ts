/**
 * Cluster groundwork against a real redis-server started here: the node registry (records that expire
 * without heartbeats) and room leases (one owner at a time, epochs that only grow, fenced writes, a
 * node that fences itself when it cannot renew, and leases that outlive a store restart).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeRegistry } from '../../sfu/src/cluster/NodeRegistry.ts';
import { type LeaseLossReason, RoomLeases } from '../../sfu/src/cluster/RoomLeases.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';

const LEASE_MS = 600;
const RENEW_MS = 150;

let redis: RedisServer;
let prefixCount = 0;
/** Each test its own key prefix, so that nothing one test leaves behind is seen by another. */
const freshPrefix = (): string => `rt-test-${++prefixCount}`;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

function leasesFor(client: Redis, prefix: string, nodeId: string, timing = { leaseMs: LEASE_MS, renewMs: RENEW_MS }) {
  const lost: { roomId: string; reason: LeaseLossReason }[] = [];
  const leases = new RoomLeases(client, prefix, {
    nodeId,
    ...timing,
    onLost: (roomId, reason) => lost.push({ roomId, reason }),
    onError: () => {}, // renewals fail while a store is down: expected here
  });
  return { leases, lost };
}

describe('node registry', () => {
  it('lists live nodes least loaded first; a node that stops heartbeating drops out by itself; a graceful stop at once', async () => {
    const prefix = freshPrefix();
    const client = redis.client();
    const loads = { a: 40, b: 10, c: 25 };
    const registries = (['a', 'b', 'c'] as const).map(
      (id) =>
        new NodeRegistry(client, prefix, { id, signalingUrl: `http://127.0.0.1:300${id.charCodeAt(0) - 97}`, mediaAddress: '127.0.0.1' }, {
          ttlMs: 600,
          heartbeatMs: 150,
          load: () => loads[id],
        }),
    );
    await Promise.all(registries.map((registry) => registry.start()));
    expect((await NodeRegistry.live(client, prefix)).map((node) => [node.id, node.load])).toEqual([['b', 10], ['c', 25], ['a', 40]]);

    // The load is read at every beat.
    loads.a = 5;
    await sleep(400);
    expect((await NodeRegistry.live(client, prefix))[0]!.id).toBe('a');

    // "b" dies without a word: it is listed until its record expires, then no more.
    await registries[1]!.stop(false);
    await sleep(900);
    expect((await NodeRegistry.live(client, prefix)).map((node) => node.id)).toEqual(['a', 'c']);
    // "c" leaves gracefully: gone at once.
    await registries[2]!.stop();
    expect((await NodeRegistry.live(client, prefix)).map((node) => node.id)).toEqual(['a']);
    await registries[0]!.stop();
    expect(await NodeRegistry.live(client, prefix)).toEqual([]);
  });

  it('refuses a heartbeat too slow for its TTL', () => {
    expect(
      () => new NodeRegistry(redis.client(), freshPrefix(), { id: 'x', signalingUrl: 'http://x', mediaAddress: 'x' }, { ttlMs: 1000, heartbeatMs: 600, load: () => 0 }),
    ).toThrow(/heartbeatMs/);
  });
});

describe('room leases', () => {
  it('one owner at a time: among simultaneous claims exactly one wins, and the others are told who and which epoch', async () => {
    const prefix = freshPrefix();
    const nodes = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, ...leasesFor(redis.client(), prefix, id) }));
    const results = await Promise.all(nodes.map((node) => node.leases.claim('room-1')));
    const winners = results.filter((result) => result.claimed);
    expect(winners).toHaveLength(1);
    const winner = nodes[results.findIndex((result) => result.claimed)]!;
    for (const result of results) {
      if (!result.claimed) expect(result).toEqual({ claimed: false, owner: winner.id, epoch: winners[0]!.epoch });
    }
    await Promise.all(nodes.map((node) => node.leases.stop()));
  });

  it('renewals keep a lease for many lease times; releasing frees it at once and the next owner gets a newer epoch', async () => {
    const prefix = freshPrefix();
    const a = leasesFor(redis.client(), prefix, 'a');
    const b = leasesFor(redis.client(), prefix, 'b');
    const first = await a.leases.claim('room-1');
    expect(first.claimed).toBe(true);
    await sleep(LEASE_MS * 3);
    expect(await b.leases.claim('room-1')).toMatchObject({ claimed: false, owner: 'a' });
    expect(a.lost).toEqual([]);
    expect(await a.leases.write('room-1', 'chat', 'hello')).toBe(true);

    await a.leases.release('room-1');
    const second = await b.leases.claim('room-1');
    expect(second.claimed).toBe(true);
    expect(second.epoch).toBeGreaterThan(first.epoch);
    await Promise.all([a.leases.stop(), b.leases.stop()]);
  });

  it('when a lease lapses another node takes the room with a newer epoch, and the old owner\'s writes are fenced off', async () => {
    const prefix = freshPrefix();
    const client = redis.client();
    const a = leasesFor(client, prefix, 'a');
    const b = leasesFor(redis.client(), prefix, 'b');
    const first = await a.leases.claim('room-1');
    expect(first.claimed).toBe(true);
    expect(await a.leases.write('room-1', 'chat', 'from a')).toBe(true);
    expect(await b.leases.claim('room-1')).toMatchObject({ claimed: false, owner: 'a' });
    // The lease lapses in the store while "a" still believes it holds the room (a pause, a clock
    // jump, a renewal lost on the way): "b" claims it, with the next epoch.
    await client.del(`${prefix}:lease:room-1`);
    const second = await b.leases.claim('room-1');
    expect(second).toMatchObject({ claimed: true });
    expect(second.epoch).toBeGreaterThan(first.epoch);
    expect(await b.leases.write('room-1', 'chat', 'from b')).toBe(true);

    // "a" writes with its old epoch: the store refuses, and "a" drops the room.
    expect(await a.leases.write('room-1', 'chat', 'late, from a')).toBe(false);
    expect(a.lost).toEqual([{ roomId: 'room-1', reason: 'fenced' }]);
    expect(await client.hgetall(`${prefix}:room:room-1`)).toEqual({ chat: 'from b', epoch: String(second.epoch) });
    await Promise.all([a.leases.stop(), b.leases.stop()]);
  });

  it('an owner that dies loses the room when its lease expires, and another node takes it', async () => {
    const prefix = freshPrefix();
    const a = leasesFor(redis.client(), prefix, 'a');
    const b = leasesFor(redis.client(), prefix, 'b');
    const first = await a.leases.claim('room-1');
    await a.leases.stop(false); // killed: no renewals, no release
    expect(await b.leases.claim('room-1')).toMatchObject({ claimed: false, owner: 'a' });
    await sleep(LEASE_MS + 100);
    const second = await b.leases.claim('room-1');
    expect(second).toMatchObject({ claimed: true });
    expect(second.epoch).toBeGreaterThan(first.epoch);
    await b.leases.stop();
  });

  it('a renewal that finds the lease gone puts it back only while no newer epoch was handed out', async () => {
    const prefix = freshPrefix();
    const client = redis.client();
    const a = leasesFor(client, prefix, 'a');
    const b = leasesFor(redis.client(), prefix, 'b');
    expect(await a.leases.claim('room-1')).toMatchObject({ claimed: true });
    expect(await a.leases.claim('room-2')).toMatchObject({ claimed: true });
    // Both leases lapse in the store; room-1 is claimed and given up again by "b" meanwhile.
    await client.del(`${prefix}:lease:room-1`, `${prefix}:lease:room-2`);
    expect(await b.leases.claim('room-1')).toMatchObject({ claimed: true });
    await b.leases.release('room-1');
    await sleep(RENEW_MS * 2 + 50);
    expect(a.lost).toEqual([{ roomId: 'room-1', reason: 'taken' }]);
    expect(await client.exists(`${prefix}:lease:room-1`)).toBe(0);
    expect(await client.hgetall(`${prefix}:lease:room-2`)).toEqual({ owner: 'a', epoch: String(a.leases.held().get('room-2')) });
    await Promise.all([a.leases.stop(), b.leases.stop()]);
  });

  it('a fenced write needs the owner as well as the epoch (epochs that collide after a store rollback)', async () => {
    const prefix = freshPrefix();
    const client = redis.client();
    const a = leasesFor(client, prefix, 'a');
    await a.leases.claim('room-1');
    // Another node holds the room under the very same epoch number.
    await client.hset(`${prefix}:lease:room-1`, 'owner', 'b');
    expect(await a.leases.write('room-1', 'chat', 'from a')).toBe(false);
    expect(a.lost).toEqual([{ roomId: 'room-1', reason: 'fenced' }]);
    expect(await client.hgetall(`${prefix}:room:room-1`)).toEqual({});
    await a.leases.stop(false);
  });

  it('renewal rounds do not pile up while the store hangs, and the lease still runs out', async () => {
    let evals = 0;
    // A store that answers the claim, then never answers again.
    const hanging = {
      eval: () => (++evals === 1 ? Promise.resolve([1, 'a', 7]) : new Promise(() => {})),
    } as unknown as Redis;
    const a = leasesFor(hanging, freshPrefix(), 'a');
    expect(await a.leases.claim('room-1')).toEqual({ claimed: true, epoch: 7 });
    await sleep(LEASE_MS + RENEW_MS * 3);
    expect(evals).toBe(2); // the claim, and one renewal: later rounds were skipped
    expect(a.lost).toEqual([{ roomId: 'room-1', reason: 'expired' }]);
    await a.leases.stop(false);
  });

  it('a renewal that finds another owner reports the room lost ("taken"), and a fenced write reports it too', async () => {
    const prefix = freshPrefix();
    const client = redis.client();
    const a = leasesFor(client, prefix, 'a');
    await a.leases.claim('room-1');
    await a.leases.claim('room-2');
    // An operator (or a split brain) hands room-1 to "b" behind a's back; room-2's epoch moves on.
    await client.hset(`${prefix}:lease:room-1`, 'owner', 'b');
    await client.hset(`${prefix}:lease:room-2`, 'epoch', '999');
    expect(await a.leases.write('room-2', 'chat', 'x')).toBe(false);
    await sleep(RENEW_MS * 2 + 50);
    expect(a.lost).toEqual(expect.arrayContaining([{ roomId: 'room-1', reason: 'taken' }, { roomId: 'room-2', reason: 'fenced' }]));
    expect([...a.leases.held().keys()]).toEqual([]);
    await a.leases.stop();
  });

  it('a node cut off from the store fences itself when its lease runs out', async () => {
    const prefix = freshPrefix();
    const client = redis.client();
    const a = leasesFor(client, prefix, 'a');
    await a.leases.claim('room-1');
    client.disconnect(); // every renewal now fails at once
    await sleep(LEASE_MS / 2);
    expect(a.lost).toEqual([]); // still within the lease: keeps serving
    await sleep(LEASE_MS / 2 + RENEW_MS + 50);
    expect(a.lost).toEqual([{ roomId: 'room-1', reason: 'expired' }]);
    await a.leases.stop(false);
  });
});

describe('room leases across a store restart', () => {
  // Its own server, since restarting it would disturb the tests above; longer leases, so that a
  // restart fits well within one even on a busy machine.
  const timing = { leaseMs: 3_000, renewMs: 500 };
  let store: RedisServer;

  beforeAll(async () => {
    store = await startRedis();
  });

  afterAll(async () => {
    await store?.stop();
  });

  /** Fails fast while the server is down (instead of queueing), and reconnects when it is back. */
  function resilientClient(): Redis {
    const client = store.client({ maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    client.on('error', () => {}); // connection refused while the server is down
    return client;
  }

  async function holdsAcrossRestart(keepData: boolean): Promise<void> {
    const prefix = freshPrefix();
    const admin = resilientClient();
    const a = leasesFor(resilientClient(), prefix, 'a', timing);
    const b = leasesFor(resilientClient(), prefix, 'b', timing);
    const first = await a.leases.claim('room-1');
    expect(first.claimed).toBe(true);
    await admin.set(`${prefix}:marker`, 'before');

    await store.restart({ keepData, downtimeMs: 300 });
    expect(await admin.get(`${prefix}:marker`)).toBe(keepData ? 'before' : null);

    // The holder's renewals put its lease (and the epoch counter) back, or simply keep it.
    await expect
      .poll(() => admin.hgetall(`${prefix}:lease:room-1`), { timeout: timing.leaseMs })
      .toEqual({ owner: 'a', epoch: String(first.epoch) });
    expect(await admin.get(`${prefix}:epoch:room-1`)).toBe(String(first.epoch));
    expect(await b.leases.claim('room-1')).toEqual({ claimed: false, owner: 'a', epoch: first.epoch });

    // And it keeps the room for longer than a lease after the restart: the renewals really extend it.
    await sleep(timing.leaseMs + timing.renewMs * 2);
    expect(a.lost).toEqual([]);
    expect(a.leases.held().get('room-1')).toBe(first.epoch);
    expect(await a.leases.write('room-1', 'chat', 'after the restart')).toBe(true);
    expect(await b.leases.claim('room-1')).toMatchObject({ claimed: false, owner: 'a' });
    await Promise.all([a.leases.stop(), b.leases.stop()]);
  }

  it('a lease outlives a restart that loses the store\'s data: the holder puts it back, with its epoch', async () => {
    await holdsAcrossRestart(false);
  });

  it('a lease outlives a restart that keeps the store\'s data', async () => {
    await holdsAcrossRestart(true);
  });

  it('a store down for longer than the lease: the holder fences itself ("expired") and does not get the room back silently', async () => {
    const prefix = freshPrefix();
    const admin = resilientClient();
    const a = leasesFor(resilientClient(), prefix, 'a', timing);
    const b = leasesFor(resilientClient(), prefix, 'b', timing);
    const first = await a.leases.claim('room-1');
    expect(first.claimed).toBe(true);

    await store.restart({ keepData: true, downtimeMs: timing.leaseMs + 2_000 });
    expect(a.lost).toEqual([{ roomId: 'room-1', reason: 'expired' }]);

    // Back up: nothing renews the room for "a" any more, and another node can take it.
    await sleep(timing.renewMs * 3);
    expect(a.lost).toHaveLength(1);
    expect([...a.leases.held().keys()]).toEqual([]);
    expect(await a.leases.write('room-1', 'chat', 'from a')).toBe(false);
    const second = await b.leases.claim('room-1');
    expect(second).toMatchObject({ claimed: true });
    expect(second.epoch).toBeGreaterThan(first.epoch);
    expect(await admin.hgetall(`${prefix}:lease:room-1`)).toEqual({ owner: 'b', epoch: String(second.epoch) });
    await Promise.all([a.leases.stop(), b.leases.stop()]);
  });

  it('after a restart that lost the data, a node that claims before the holder renews gets a newer epoch, and the holder loses the room ("taken")', async () => {
    const prefix = freshPrefix();
    const admin = resilientClient();
    const aClient = resilientClient();
    const a = leasesFor(aClient, prefix, 'a', timing);
    const b = leasesFor(resilientClient(), prefix, 'b', timing);
    const first = { 'room-1': await a.leases.claim('room-1'), 'room-2': await a.leases.claim('room-2') };
    expect(first['room-1'].claimed && first['room-2'].claimed).toBe(true);

    // "a" cannot reach the store for a moment (well within its lease: just extended), and the store
    // loses its data.
    await Promise.all([a.leases.claim('room-1'), a.leases.claim('room-2')]);
    aClient.disconnect();
    await store.restart({ keepData: false });
    const second = { 'room-1': await b.leases.claim('room-1'), 'room-2': await b.leases.claim('room-2') };
    for (const roomId of ['room-1', 'room-2'] as const) {
      expect(second[roomId]).toMatchObject({ claimed: true });
      // The counter was lost with the data; the new epoch is still above the one "a" holds.
      expect(second[roomId].epoch).toBeGreaterThan(first[roomId].epoch);
    }
    expect(await b.leases.write('room-2', 'chat', 'from b')).toBe(true);
    expect(a.lost).toEqual([]); // "a" has not heard from the store yet

    await aClient.connect();
    // A late write from "a" is refused by the store, whichever of the write and a renewal comes first.
    expect(await a.leases.write('room-2', 'chat', 'late, from a')).toBe(false);
    expect(await admin.hgetall(`${prefix}:room:room-2`)).toEqual({ chat: 'from b', epoch: String(second['room-2'].epoch) });
    // The renewal finds room-1 owned by "b".
    await expect.poll(() => a.lost.find((loss) => loss.roomId === 'room-1'), { timeout: timing.leaseMs }).toEqual({ roomId: 'room-1', reason: 'taken' });
    expect(a.lost).toHaveLength(2);
    expect(['taken', 'fenced']).toContain(a.lost.find((loss) => loss.roomId === 'room-2')?.reason);
    expect([...a.leases.held().keys()]).toEqual([]);
    expect([...b.leases.held().keys()].sort()).toEqual(['room-1', 'room-2']);
    expect(await admin.hgetall(`${prefix}:lease:room-1`)).toEqual({ owner: 'b', epoch: String(second['room-1'].epoch) });
    expect(b.lost).toEqual([]);
    await Promise.all([a.leases.stop(), b.leases.stop()]);
  });
});
