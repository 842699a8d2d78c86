import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkerPool } from '../media/WorkerPool.ts';
import type { RoomRegistry } from '../rooms/RoomRegistry.ts';

/**
 * Prometheus metrics: rooms and people, and per worker the media objects it holds and the CPU it
 * burns, so an operator sees when a worker nears its budget. Values are read at scrape time.
 */
export function createMetrics(pool: WorkerPool, registry: RoomRegistry): Registry {
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics, prefix: 'roundtable_process_' });

  new Gauge({
    name: 'roundtable_rooms',
    help: 'Rooms open now',
    registers: [metrics],
    collect() {
      this.set(registry.size);
    },
  });
  new Gauge({
    name: 'roundtable_participants',
    help: 'Participants in all rooms',
    registers: [metrics],
    collect() {
      this.set(registry.rooms().reduce((sum, room) => sum + room.peers.size, 0));
    },
  });
  for (const kind of ['routers', 'transports', 'producers', 'consumers'] as const) {
    new Gauge({
      name: `roundtable_worker_${kind}`,
      help: `mediasoup ${kind} on each worker`,
      labelNames: ['worker'],
      registers: [metrics],
      collect() {
        for (const load of pool.loads()) this.set({ worker: String(load.index) }, load[kind]);
      },
    });
  }
  new Counter({
    name: 'roundtable_worker_cpu_seconds_total',
    help: 'CPU time used by each mediasoup worker process',
    labelNames: ['worker'],
    registers: [metrics],
    async collect() {
      this.reset();
      for (const [index, seconds] of (await pool.cpuSeconds()).entries()) this.inc({ worker: String(index) }, seconds);
    },
  });
  return metrics;
}
