/**
 * Cumulative counters read at one instant (a snapshot), and the rates between two of them. Rates are
 * always over measured wall time, so a late timer tick does not skew a per-second figure.
 */
import { performance } from 'node:perf_hooks';
import type { types } from 'mediasoup';
import type { WorkerLoad, WorkerPool } from '../../sfu/src/media/WorkerPool.ts';
import { processCpuSeconds } from './linux-proc.ts';
import type { RtpSink, SinkTotals } from './rtp-sink.ts';
import { producerPackets } from './synthetic-publisher.ts';

export interface SnapshotSources {
  pool: WorkerPool;
  sink: RtpSink;
  producers: readonly types.Producer[];
  ffmpegPid: number | undefined;
}

export interface Snapshot {
  at: number;
  sink: SinkTotals;
  kernelDrops: number;
  /** By worker index; the pid tells a replaced (crashed) worker apart. */
  workerCpu: ({ pid: number; seconds: number } | undefined)[];
  /** This process: the server's control of the workers and the benchmark itself (the sink runs apart). */
  nodeCpuMicros: number;
  /** The sink's processes together (Node child and native core); undefined once one is gone. */
  sinkCpuSeconds: number | undefined;
  ffmpegCpuSeconds: number | undefined;
  producerPackets: number;
  loads: WorkerLoad[];
}

export interface IntervalRates {
  seconds: number;
  /** RTP packets per second the producers received from ffmpeg. */
  inPacketsPerSecond: number;
  /** RTP packets per second that reached the sink, all consumers together. */
  outPacketsPerSecond: number;
  outMbitPerSecond: number;
  /** Lost / expected at the sink, from sequence-number gaps; null when nothing was expected. */
  lossPercent: number | null;
  /** The same for each kind of stream the sink tells apart ("audio", "video"). */
  lossPercentByKind: Record<string, number | null>;
  /** Datagrams the kernel dropped on the sink's sockets (the sink fell behind). */
  sinkKernelDrops: number;
  /** Consumer streams seen at the sink so far. */
  streams: number;
  /** Other RTP reaching the sink (mediasoup's bandwidth probes), per second; not in the media counts. */
  probePacketsPerSecond: number;
  /** 100 = one core busy; null when the worker was replaced during the interval. */
  workerCpuPercent: (number | null)[];
  /** This process without the sink: the in-process server's control plane and the tool. */
  nodeCpuPercent: number;
  /** The sink's processes, reading every packet (and decrypting the few they must read). */
  sinkCpuPercent: number | null;
  ffmpegCpuPercent: number | null;
}

export async function takeSnapshot(sources: SnapshotSources): Promise<Snapshot> {
  const loads = sources.pool.loads();
  const packets = await producerPackets(sources.producers);
  const sink = await sources.sink.totals();
  const ownCpu = process.cpuUsage();
  return {
    at: performance.now(),
    sink,
    kernelDrops: sources.sink.kernelDrops(),
    workerCpu: loads.map((load) => {
      const seconds = processCpuSeconds(load.pid);
      return seconds === undefined ? undefined : { pid: load.pid, seconds };
    }),
    nodeCpuMicros: ownCpu.user + ownCpu.system,
    sinkCpuSeconds: sinkCpuSeconds(sources.sink),
    ffmpegCpuSeconds: sources.ffmpegPid === undefined ? undefined : processCpuSeconds(sources.ffmpegPid),
    producerPackets: packets,
    loads,
  };
}

/** CPU seconds of every process of the sink, summed; undefined if one of them is gone. */
export function sinkCpuSeconds(sink: Pick<RtpSink, 'pids'>): number | undefined {
  let total = 0;
  for (const pid of sink.pids) {
    const seconds = processCpuSeconds(pid);
    if (seconds === undefined) return undefined;
    total += seconds;
  }
  return total;
}

const percentOf = (cpuSeconds: number, wallSeconds: number): number => (cpuSeconds / wallSeconds) * 100;

const cpuPercentBetween = (from: number | undefined, to: number | undefined, wallSeconds: number): number | null =>
  from !== undefined && to !== undefined ? percentOf(to - from, wallSeconds) : null;

function lossPercent(packets: number, expected: number): number | null {
  // A reordered packet can make `packets` exceed `expected` in a short window: that is not negative loss.
  return expected > 0 ? (Math.max(0, expected - packets) / expected) * 100 : null;
}

function lossByKind(from: SinkTotals, to: SinkTotals): Record<string, number | null> {
  const byKind: Record<string, number | null> = {};
  for (const [kind, now] of Object.entries(to.byKind)) {
    const before = from.byKind[kind] ?? { packets: 0, expected: 0 };
    byKind[kind] = lossPercent(now.packets - before.packets, now.expected - before.expected);
  }
  return byKind;
}

export function ratesBetween(from: Snapshot, to: Snapshot): IntervalRates {
  const seconds = (to.at - from.at) / 1000;
  const packets = to.sink.packets - from.sink.packets;
  const expected = to.sink.expected - from.sink.expected;
  return {
    seconds,
    inPacketsPerSecond: (to.producerPackets - from.producerPackets) / seconds,
    outPacketsPerSecond: packets / seconds,
    outMbitPerSecond: ((to.sink.bytes - from.sink.bytes) * 8) / seconds / 1e6,
    lossPercent: lossPercent(packets, expected),
    lossPercentByKind: lossByKind(from.sink, to.sink),
    sinkKernelDrops: to.kernelDrops - from.kernelDrops,
    streams: to.sink.streams,
    probePacketsPerSecond: (to.sink.otherRtp - from.sink.otherRtp) / seconds,
    workerCpuPercent: to.workerCpu.map((now, index) => {
      const before = from.workerCpu[index];
      return now && before && now.pid === before.pid ? percentOf(now.seconds - before.seconds, seconds) : null;
    }),
    nodeCpuPercent: percentOf((to.nodeCpuMicros - from.nodeCpuMicros) / 1e6, seconds),
    sinkCpuPercent: cpuPercentBetween(from.sinkCpuSeconds, to.sinkCpuSeconds, seconds),
    ffmpegCpuPercent: cpuPercentBetween(from.ffmpegCpuSeconds, to.ffmpegCpuSeconds, seconds),
  };
}
