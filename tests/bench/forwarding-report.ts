/** How the forwarding benchmark reports: the per-second progress line, the results table, the JSON step. */
import type { IntervalRates } from './forwarding-sampler.ts';
import { round } from './statistics.ts';
import { type Column, cell } from './table.ts';

export interface StepResult extends IntervalRates {
  receivers: number;
  /** Consumers and producers on each worker, as the pool counts them (pipe producers and consumers included). */
  consumersPerWorker: number[];
  producersPerWorker: number[];
}

const perWorker = (values: readonly number[]): string => values.join('/');
const cpu = (values: readonly (number | null)[]): string => values.map((v) => cell(v)).join('/');

export function resultColumns(): Column<StepResult>[] {
  return [
    { header: 'receivers', width: 9, value: (r) => String(r.receivers) },
    { header: 'consumers', width: 9, value: (r) => String(r.consumersPerWorker.reduce((a, b) => a + b, 0)) },
    { header: 'cons/worker', width: 11, value: (r) => perWorker(r.consumersPerWorker) },
    { header: 'prod/worker', width: 11, value: (r) => perWorker(r.producersPerWorker) },
    { header: 'streams', width: 7, value: (r) => String(r.streams) },
    { header: 'in pkt/s', width: 8, value: (r) => cell(r.inPacketsPerSecond) },
    { header: 'out pkt/s', width: 9, value: (r) => cell(r.outPacketsPerSecond) },
    { header: 'out Mbit/s', width: 10, value: (r) => cell(r.outMbitPerSecond, 1) },
    { header: 'loss %', width: 6, value: (r) => cell(r.lossPercent, 2) },
    { header: 'sink drops', width: 10, value: (r) => String(r.sinkKernelDrops) },
    { header: 'worker cpu %', width: 12, value: (r) => cpu(r.workerCpuPercent) },
    { header: 'node cpu %', width: 10, value: (r) => cell(r.nodeCpuPercent) },
    { header: 'sink cpu %', width: 10, value: (r) => cell(r.sinkCpuPercent) },
    { header: 'ffmpeg cpu %', width: 12, value: (r) => cell(r.ffmpegCpuPercent) },
  ];
}

export function progressLine(phase: string, receivers: number, rates: IntervalRates): string {
  return (
    `${phase} | ${receivers} receivers | out ${cell(rates.outPacketsPerSecond)} pkt/s ` +
    `(${cell(rates.outMbitPerSecond, 1)} Mbit/s) | loss ${cell(rates.lossPercent, 2)}% | ` +
    `sink drops ${rates.sinkKernelDrops} | worker cpu ${cpu(rates.workerCpuPercent)}% | ` +
    `node ${cell(rates.nodeCpuPercent)}% | sink ${cell(rates.sinkCpuPercent)}% | ffmpeg ${cell(rates.ffmpegCpuPercent)}%`
  );
}

/** One step for the JSON summary: the table's numbers, rounded as the table shows them plus one digit. */
export function stepJson(result: StepResult): Record<string, unknown> {
  return {
    receivers: result.receivers,
    consumers: result.consumersPerWorker.reduce((a, b) => a + b, 0),
    consumersPerWorker: result.consumersPerWorker,
    producersPerWorker: result.producersPerWorker,
    streamsAtSink: result.streams,
    seconds: round(result.seconds, 2),
    inPacketsPerSecond: round(result.inPacketsPerSecond, 1),
    outPacketsPerSecond: round(result.outPacketsPerSecond, 1),
    outMbitPerSecond: round(result.outMbitPerSecond, 2),
    lossPercent: round(result.lossPercent, 3),
    sinkKernelDrops: result.sinkKernelDrops,
    probePacketsPerSecond: round(result.probePacketsPerSecond, 1),
    workerCpuPercent: result.workerCpuPercent.map((v) => round(v, 1)),
    nodeCpuPercent: round(result.nodeCpuPercent, 1),
    sinkCpuPercent: round(result.sinkCpuPercent, 1),
    ffmpegCpuPercent: round(result.ffmpegCpuPercent, 1),
  };
}
