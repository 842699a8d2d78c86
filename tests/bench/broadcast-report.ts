/**
 * How the broadcast benchmark reports: the join-storm table, the ramp table and its progress line,
 * which ramp steps count as within limits, and the JSON for both phases.
 */
import type { StormPlan, StormResult } from './broadcast-storm.ts';
import type { IntervalRates } from './forwarding-sampler.ts';
import { median, quantile, round } from './statistics.ts';
import { type Column, cell } from './table.ts';

/** A ramp step counts as within limits below this loss, for audio and for video alike. */
export const LOSS_LIMIT_PERCENT = 1;

const perWorker = (values: readonly number[]): string => values.join('/');
const cpu = (values: readonly (number | null)[]): string => values.map((v) => cell(v)).join('/');
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

export interface StormRow {
  viewers: number;
  joined: number;
  firstFrames: number;
  /** Time to first frame in ms, nearest rank; undefined when no viewer had one. */
  firstFrameMs: { min?: number; median?: number; p95?: number; max?: number };
  /** From the first viewer's start to the last first frame, in seconds. */
  seconds: number;
  pli: number;
  fir: number;
  nack: number;
  /** PLI + FIR per second, over the storm. */
  keyframeRequestsPerSecond: number;
  /** The most PLI + FIR in any one second of the storm. */
  keyframeRequestsMaxSecond: number;
  workerCpuPercent: (number | null)[];
  nodeCpuPercent: number;
  sinkCpuPercent: number | null;
}

export function stormRow(result: StormResult): StormRow {
  const ms = result.firstFrameMs;
  const requests = result.feedback.pli + result.feedback.fir;
  return {
    viewers: result.viewers,
    joined: result.joined,
    firstFrames: ms.length,
    firstFrameMs: { min: quantile(ms, 0), median: median(ms), p95: quantile(ms, 0.95), max: quantile(ms, 1) },
    seconds: result.seconds,
    pli: result.feedback.pli,
    fir: result.feedback.fir,
    nack: result.feedback.nack,
    keyframeRequestsPerSecond: requests / result.seconds,
    keyframeRequestsMaxSecond: Math.max(0, ...result.feedbackPerSecond.map((second) => second.pli + second.fir)),
    workerCpuPercent: result.rates.workerCpuPercent,
    nodeCpuPercent: result.rates.nodeCpuPercent,
    sinkCpuPercent: result.rates.sinkCpuPercent,
  };
}

export const stormColumns: Column<StormRow>[] = [
  { header: 'viewers', width: 7, value: (r) => String(r.viewers) },
  { header: 'joined', width: 6, value: (r) => String(r.joined) },
  { header: 'first frames', width: 12, value: (r) => `${r.firstFrames}/${r.viewers}` },
  { header: 'ttff min', width: 8, value: (r) => cell(r.firstFrameMs.min) },
  { header: 'ttff median', width: 11, value: (r) => cell(r.firstFrameMs.median) },
  { header: 'ttff p95', width: 8, value: (r) => cell(r.firstFrameMs.p95) },
  { header: 'ttff max', width: 8, value: (r) => cell(r.firstFrameMs.max) },
  { header: 'storm s', width: 7, value: (r) => cell(r.seconds, 1) },
  { header: 'PLI', width: 5, value: (r) => String(r.pli) },
  { header: 'FIR', width: 5, value: (r) => String(r.fir) },
  { header: 'NACK', width: 5, value: (r) => String(r.nack) },
  { header: 'kf req/s', width: 8, value: (r) => cell(r.keyframeRequestsPerSecond, 2) },
  { header: 'kf req max/s', width: 12, value: (r) => String(r.keyframeRequestsMaxSecond) },
  { header: 'worker cpu %', width: 12, value: (r) => cpu(r.workerCpuPercent) },
  { header: 'node cpu %', width: 10, value: (r) => cell(r.nodeCpuPercent) },
  { header: 'sink cpu %', width: 10, value: (r) => cell(r.sinkCpuPercent) },
];

export function stormJson(plan: StormPlan, result: StormResult, row: StormRow): Record<string, unknown> {
  return {
    viewers: row.viewers,
    spreadSeconds: plan.seconds,
    joined: row.joined,
    firstFrames: row.firstFrames,
    firstFrameMs: {
      min: round(row.firstFrameMs.min, 1),
      median: round(row.firstFrameMs.median, 1),
      p95: round(row.firstFrameMs.p95, 1),
      max: round(row.firstFrameMs.max, 1),
    },
    seconds: round(row.seconds, 2),
    keyframeRequests: { pli: row.pli, fir: row.fir, nack: row.nack },
    keyframeRequestsPerSecond: round(row.keyframeRequestsPerSecond, 2),
    keyframeRequestsMaxSecond: row.keyframeRequestsMaxSecond,
    feedbackPerSecond: result.feedbackPerSecond,
    consumersPerWorker: result.last.loads.map((load) => load.consumers),
    workerCpuPercent: row.workerCpuPercent.map((v) => round(v, 1)),
    nodeCpuPercent: round(row.nodeCpuPercent, 1),
    sinkCpuPercent: round(row.sinkCpuPercent, 1),
  };
}

export interface RampStep extends IntervalRates {
  viewers: number;
  /** Consumers each viewer holds: one per producer (audio and video). */
  consumersPerViewer: number;
  /** As the pool counts them, pipe producers and consumers included. */
  consumersPerWorker: number[];
  producersPerWorker: number[];
}

const audioLoss = (step: RampStep): number | null => step.lossPercentByKind.audio ?? null;
const videoLoss = (step: RampStep): number | null => step.lossPercentByKind.video ?? null;

/** Why a step is not within limits; empty when it is. */
export function limitsExceeded(step: RampStep): string[] {
  const reasons: string[] = [];
  for (const [kind, loss] of [['audio', audioLoss(step)], ['video', videoLoss(step)]] as const) {
    if (loss === null) reasons.push(`no ${kind} reached the sink`);
    else if (loss >= LOSS_LIMIT_PERCENT) reasons.push(`${kind} loss ${cell(loss, 2)} %`);
  }
  if (step.sinkKernelDrops > 0) reasons.push(`${step.sinkKernelDrops} sink drops`);
  const streams = step.viewers * step.consumersPerViewer;
  if (step.streams < streams) reasons.push(`only ${step.streams} of ${streams} streams reached the sink`);
  return reasons;
}

export function rampColumns(): Column<RampStep>[] {
  return [
    { header: 'viewers', width: 7, value: (r) => String(r.viewers) },
    { header: 'consumers', width: 9, value: (r) => String(sum(r.consumersPerWorker)) },
    { header: 'cons/worker', width: 11, value: (r) => perWorker(r.consumersPerWorker) },
    { header: 'streams', width: 7, value: (r) => String(r.streams) },
    { header: 'in pkt/s', width: 8, value: (r) => cell(r.inPacketsPerSecond) },
    { header: 'out pkt/s', width: 9, value: (r) => cell(r.outPacketsPerSecond) },
    { header: 'out Mbit/s', width: 10, value: (r) => cell(r.outMbitPerSecond, 1) },
    { header: 'audio loss %', width: 12, value: (r) => cell(audioLoss(r), 2) },
    { header: 'video loss %', width: 12, value: (r) => cell(videoLoss(r), 2) },
    { header: 'sink drops', width: 10, value: (r) => String(r.sinkKernelDrops) },
    { header: 'worker cpu %', width: 12, value: (r) => cpu(r.workerCpuPercent) },
    { header: 'node cpu %', width: 10, value: (r) => cell(r.nodeCpuPercent) },
    { header: 'sink cpu %', width: 10, value: (r) => cell(r.sinkCpuPercent) },
    { header: 'ffmpeg cpu %', width: 12, value: (r) => cell(r.ffmpegCpuPercent) },
    { header: 'ok', width: 3, value: (r) => (limitsExceeded(r).length === 0 ? 'yes' : 'no') },
  ];
}

export function rampProgressLine(phase: string, viewers: number, rates: IntervalRates): string {
  return (
    `${phase} | ${viewers} viewers | out ${cell(rates.outPacketsPerSecond)} pkt/s ` +
    `(${cell(rates.outMbitPerSecond, 1)} Mbit/s) | loss audio ${cell(rates.lossPercentByKind.audio, 2)}% ` +
    `video ${cell(rates.lossPercentByKind.video, 2)}% | sink drops ${rates.sinkKernelDrops} | ` +
    `worker cpu ${cpu(rates.workerCpuPercent)}% | node ${cell(rates.nodeCpuPercent)}% | sink ${cell(rates.sinkCpuPercent)}% | ffmpeg ${cell(rates.ffmpegCpuPercent)}%`
  );
}

export function rampStepJson(step: RampStep): Record<string, unknown> {
  return {
    viewers: step.viewers,
    consumers: sum(step.consumersPerWorker),
    consumersPerWorker: step.consumersPerWorker,
    producersPerWorker: step.producersPerWorker,
    streamsAtSink: step.streams,
    seconds: round(step.seconds, 2),
    inPacketsPerSecond: round(step.inPacketsPerSecond, 1),
    outPacketsPerSecond: round(step.outPacketsPerSecond, 1),
    outMbitPerSecond: round(step.outMbitPerSecond, 2),
    audioLossPercent: round(audioLoss(step), 3),
    videoLossPercent: round(videoLoss(step), 3),
    sinkKernelDrops: step.sinkKernelDrops,
    probePacketsPerSecond: round(step.probePacketsPerSecond, 1),
    workerCpuPercent: step.workerCpuPercent.map((v) => round(v, 1)),
    nodeCpuPercent: round(step.nodeCpuPercent, 1),
    sinkCpuPercent: round(step.sinkCpuPercent, 1),
    ffmpegCpuPercent: round(step.ffmpegCpuPercent, 1),
    withinLimits: limitsExceeded(step).length === 0,
  };
}

export interface Capacity {
  /** The largest step of the unbroken run of steps within limits from the first; null if the first failed. */
  maxViewers: number | null;
  /** The first step not within limits, and why; absent when every step measured was within them. */
  firstFailure?: { viewers: number; reasons: string[] };
}

/**
 * Capacity is counted up to the first failing step: a later step that happens to pass after one that
 * failed says more about noise than about capacity.
 */
export function capacity(steps: readonly RampStep[]): Capacity {
  let maxViewers: number | null = null;
  for (const step of steps) {
    const reasons = limitsExceeded(step);
    if (reasons.length > 0) return { maxViewers, firstFailure: { viewers: step.viewers, reasons } };
    maxViewers = step.viewers;
  }
  return { maxViewers };
}

export function capacityLine(result: Capacity, measuredSteps: number, plannedSteps: number): string {
  const limits = `audio and video loss < ${LOSS_LIMIT_PERCENT} %, no sink drops, every stream at the sink`;
  const head =
    result.maxViewers === null
      ? `max viewers within limits (${limits}): none of the steps measured`
      : `max viewers within limits (${limits}): ${result.maxViewers}`;
  if (result.firstFailure) {
    return `${head}; at ${result.firstFailure.viewers}: ${result.firstFailure.reasons.join(', ')}`;
  }
  if (measuredSteps < plannedSteps) return `${head} (only ${measuredSteps} of ${plannedSteps} steps measured)`;
  return `${head} (the largest step: capacity may be higher)`;
}
