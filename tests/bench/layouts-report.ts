/** How the layouts benchmark reports: the per-second progress line, the results table, the JSON. */
import type { IntervalRates } from './forwarding-sampler.ts';
import type { LayoutName } from './layout-plans.ts';
import type { LayerCensus, LayerMismatch } from './layout-receivers.ts';
import { round } from './statistics.ts';
import { type Column, cell } from './table.ts';

export interface LayoutResult extends IntervalRates {
  layout: LayoutName;
  description: string;
  receivers: number;
  /** From applying the layout until every consumer was on its layer (or the wait gave up). */
  settleMs: number;
  /** Checked before measuring, once the layers had settled. */
  before: LayerCensus;
  /** Checked again when the measurement ended: a layer that dropped meanwhile shows here. */
  after: LayerCensus;
  /** What the layout asks for: each resumed consumer's wanted layer at the rate its publisher sent that layer. */
  demandMbitPerSecond: number;
  /** out Mbit/s of this layout ÷ that of the naive one; null before the naive one is measured. */
  ratioToNaive: number | null;
}

const cpu = (values: readonly (number | null)[]): string => values.map((v) => cell(v)).join('/');

export function resultColumns(): Column<LayoutResult>[] {
  return [
    { header: 'layout', width: 7, value: (r) => r.layout },
    { header: 'active', width: 6, value: (r) => String(r.before.active) },
    { header: 'paused', width: 6, value: (r) => String(r.before.paused) },
    { header: 'at layer 0/1/2', width: 14, value: (r) => r.before.byLayer.join('/') },
    { header: 'off layer', width: 9, value: (r) => String(r.before.mismatches.length) },
    { header: 'in pkt/s', width: 8, value: (r) => cell(r.inPacketsPerSecond) },
    { header: 'demand Mbit/s', width: 13, value: (r) => cell(r.demandMbitPerSecond, 1) },
    { header: 'out pkt/s', width: 9, value: (r) => cell(r.outPacketsPerSecond) },
    { header: 'out Mbit/s', width: 10, value: (r) => cell(r.outMbitPerSecond, 1) },
    { header: 'Mbit/s per rcv', width: 14, value: (r) => cell(r.outMbitPerSecond / r.receivers, 2) },
    { header: 'loss %', width: 6, value: (r) => cell(r.lossPercent, 2) },
    { header: 'sink drops', width: 10, value: (r) => String(r.sinkKernelDrops) },
    { header: 'worker cpu %', width: 12, value: (r) => cpu(r.workerCpuPercent) },
    { header: 'node cpu %', width: 10, value: (r) => cell(r.nodeCpuPercent) },
    { header: 'sink cpu %', width: 10, value: (r) => cell(r.sinkCpuPercent) },
    { header: 'ffmpeg cpu %', width: 12, value: (r) => cell(r.ffmpegCpuPercent) },
    { header: 'vs naive', width: 8, value: (r) => cell(r.ratioToNaive, 3) },
  ];
}

export function progressLine(phase: string, rates: IntervalRates): string {
  return (
    `${phase} | out ${cell(rates.outPacketsPerSecond)} pkt/s (${cell(rates.outMbitPerSecond, 1)} Mbit/s) | ` +
    `loss ${cell(rates.lossPercent, 2)}% | sink drops ${rates.sinkKernelDrops} | ` +
    `worker cpu ${cpu(rates.workerCpuPercent)}% | node ${cell(rates.nodeCpuPercent)}% | sink ${cell(rates.sinkCpuPercent)}%`
  );
}

/** Consumers off their layer, one line each, at most `limit` of them (a broken run can have hundreds). */
export function mismatchLines(layout: LayoutName, when: string, mismatches: readonly LayerMismatch[], limit = 10): string[] {
  const lines = mismatches
    .slice(0, limit)
    .map((m) => `${layout} (${when}): receiver ${m.receiver} ← participant ${m.publisher}: asked ${m.wanted}, got ${m.got}`);
  if (mismatches.length > limit) lines.push(`${layout} (${when}): … and ${mismatches.length - limit} more`);
  return lines;
}

function censusJson(census: LayerCensus): Record<string, unknown> {
  return {
    active: census.active,
    paused: census.paused,
    atLayer: census.byLayer,
    activeWithoutLayer: census.none,
    offLayer: census.mismatches.length,
    // The first few are enough to see a pattern; the count says how many there were.
    offLayerExamples: census.mismatches.slice(0, 20),
  };
}

/** One layout for the JSON summary, rounded as the table shows it plus one digit. */
export function resultJson(result: LayoutResult): Record<string, unknown> {
  return {
    layout: result.layout,
    description: result.description,
    receivers: result.receivers,
    settleMs: Math.round(result.settleMs),
    beforeMeasuring: censusJson(result.before),
    afterMeasuring: censusJson(result.after),
    seconds: round(result.seconds, 2),
    demandMbitPerSecond: round(result.demandMbitPerSecond, 2),
    outPacketsPerSecond: round(result.outPacketsPerSecond, 1),
    outMbitPerSecond: round(result.outMbitPerSecond, 2),
    outMbitPerSecondPerReceiver: round(result.outMbitPerSecond / result.receivers, 3),
    lossPercent: round(result.lossPercent, 3),
    sinkKernelDrops: result.sinkKernelDrops,
    streamsAtSink: result.streams,
    inPacketsPerSecond: round(result.inPacketsPerSecond, 1),
    workerCpuPercent: result.workerCpuPercent.map((v) => round(v, 1)),
    nodeCpuPercent: round(result.nodeCpuPercent, 1),
    sinkCpuPercent: round(result.sinkCpuPercent, 1),
    ffmpegCpuPercent: round(result.ffmpegCpuPercent, 1),
    ratioToNaive: round(result.ratioToNaive, 4),
  };
}
