/**
 * Rooms for the synthetic benchmarks (forwarding, broadcast), made through the server's own
 * RoomRegistry so they sit on the workers the pool chooses, exactly as meetings do.
 */
import type { types } from 'mediasoup';
import type { Room } from '../../sfu/src/rooms/Room.ts';
import type { RoundtableServer } from '../../sfu/src/server.ts';
import { progress } from './cli.ts';

export interface BenchRoom {
  room: Room;
  router: types.Router;
  /** The worker the pool put this room's router on. */
  workerIndex: number;
}

/**
 * One room per worker. The pool puts each new room's router on its least-loaded worker, so W rooms on
 * an idle pool land on W different workers.
 */
export async function roomPerWorker(server: RoundtableServer, idPrefix: string, tool: string): Promise<BenchRoom[]> {
  const rooms: BenchRoom[] = [];
  for (let i = 0; i < server.pool.size; i++) {
    const room = await server.registry.getOrCreate(`${idPrefix}-${i}`, 'meeting');
    const router = room.routers.main;
    rooms.push({ room, router, workerIndex: router.appData.workerIndex });
  }
  const used = new Set(rooms.map((r) => r.workerIndex));
  if (used.size < rooms.length) {
    progress(tool, `warning: the pool put ${rooms.length} rooms on only ${used.size} workers; CPU per worker will be uneven`);
  }
  return rooms;
}

/**
 * Makes the producers (on the first room's router) available on every other room's router through
 * mediasoup pipe transports on 127.0.0.1, as a meeting that spans workers does: each extra worker
 * costs one pipe per producer, not one per receiver.
 */
export async function pipeProducers(rooms: readonly BenchRoom[], producerIds: readonly string[]): Promise<void> {
  const [origin, ...others] = rooms;
  if (!origin) return;
  for (const target of others) {
    for (const producerId of producerIds) {
      await origin.router.pipeToRouter({ producerId, router: target.router, listenIp: '127.0.0.1' });
    }
  }
}
