/**
 * Cluster groundwork against a real redis-server started here: the node registry (records that expire
 * without heartbeats) and room leases (one owner at a time, epochs that only grow, fenced writes, and a
 * node that fences itself when it cannot renew).
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

function leasesFor(client: Redis, prefix: string, nodeId: string) {
  const lost: { roomId: string; reason: LeaseLossReason }[] = [];
  const leases = new RoomLeases(client, prefix, {
    nodeId,
    leaseMs: LEASE_MS,
    renewMs: RENEW_MS,
    onLost: (roomId, reason) => lost.push({ roomId, reason }),
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
    expect(second).toEqual({ claimed: true, epoch: first.epoch + 1 });
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
    expect(await b.leases.claim('room-1')).toEqual({ claimed: true, epoch: first.epoch + 1 });
    await b.leases.stop();
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
