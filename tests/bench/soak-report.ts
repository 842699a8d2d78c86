/**
 * The soak run's arithmetic, kept free of servers and browsers so it can be unit-tested: what one
 * sample holds, the growth of each metric per 1,000 joins (a least-squares line over the samples
 * after warm-up), the thresholds that growth is judged by, and the final verdict.
 */
import type { Column } from './table.ts';
import { cell } from './table.ts';

/** One reading of the server, taken between churn rounds (every synthetic peer of the round gone). */
export interface SoakSample {
  /** Seconds since churn started. */
  elapsedSeconds: number;
  /** Synthetic joins that succeeded so far (browser joins not counted). */
  joins: number;
  rssMiB: number;
  /** V8 heap in use right after a full garbage collection (when --expose-gc is on). */
  heapUsedMiB: number;
  /** Event-loop delay over the interval that ended with this sample. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** process.getActiveResourcesInfo().length */
  handles: number;
  /** Entries in /proc/self/fd. */
  fds: number;
  /** From the worker and router dumps. */
  routers: number;
  transports: number;
  producers: number;
  consumers: number;
  dataProducers: number;
  rtpObservers: number;
  /** Ids the workers hold a request handler for: every live mediasoup object, whatever owns it. */
  workerObjects: number;
  /** Live rooms and peers in the server's RoomRegistry. */
  rooms: number;
  peers: number;
  /** VmRSS of each mediasoup worker process, summed. */
  workersRssMiB: number;
}

export type MetricKey = Exclude<keyof SoakSample, 'elapsedSeconds' | 'joins'>;

export interface Threshold {
  /** Largest acceptable growth per 1,000 joins; null: reported, not judged. */
  per1000Joins: number | null;
  /** Why this limit (printed in the verdict and in docs/benchmarks.md). */
  why: string;
}

/**
 * Limits on growth per 1,000 joins. A leak is something retained per join (or per room, per
 * message): a Peer with its transports, listeners and socket state is tens of KiB of heap, a leaked
 * socket or timer is one handle, a leaked transport or consumer is one mediasoup object. The limits
 * sit well below one retained object per join and well above what the run's own noise produces.
 */
export const THRESHOLDS: Record<MetricKey, Threshold> = {
  heapUsedMiB: {
    per1000Joins: 1,
    why: 'measured after a full GC; 1 MiB per 1,000 joins is 1 KiB a join, far less than any retained peer (tens of KiB)',
  },
  rssMiB: {
    per1000Joins: 8,
    why: 'RSS also moves with V8 heap sizing and allocator fragmentation; 8 KiB a join still catches a retained peer',
  },
  workersRssMiB: {
    per1000Joins: 4,
    why: 'two workers summed; a leaked WebRtcTransport with its buffers is tens of KiB in the worker',
  },
  loopDelayP99Ms: {
    per1000Joins: 5,
    why: 'a list that grows with every join and is scanned per event makes the loop slower run after run; other load on the machine moves it by a few ms',
  },
  loopDelayMaxMs: {
    per1000Joins: null,
    why: 'one stall per interval (a GC, a browser rejoin, another process on the cores): reported, too noisy to judge',
  },
  handles: { per1000Joins: 2, why: 'a leaked socket or timer per join would add 1,000' },
  fds: { per1000Joins: 2, why: 'a leaked socket per join would add 1,000' },
  routers: { per1000Joins: 0.1, why: 'samples are taken with every synthetic peer gone: any growth is a leak' },
  transports: { per1000Joins: 0.1, why: 'as routers' },
  producers: { per1000Joins: 0.1, why: 'as routers' },
  consumers: { per1000Joins: 0.1, why: 'as routers' },
  dataProducers: { per1000Joins: 0.1, why: 'as routers' },
  rtpObservers: { per1000Joins: 0.1, why: 'as routers' },
  workerObjects: { per1000Joins: 0.1, why: 'as routers; also counts objects no router dump shows' },
  rooms: { per1000Joins: 0.1, why: 'as routers' },
  peers: { per1000Joins: 0.1, why: 'as routers' },
};

export const METRICS = Object.keys(THRESHOLDS) as MetricKey[];

/** The mediasoup and registry counts that must come back exactly to the browsers' baseline. */
export const COUNTED: readonly MetricKey[] = [
  'routers',
  'transports',
  'producers',
  'consumers',
  'dataProducers',
  'rtpObservers',
  'workerObjects',
  'rooms',
  'peers',
];

export interface LinearFit {
  slope: number;
  intercept: number;
}

/** Ordinary least squares y = slope·x + intercept; undefined with fewer than two distinct x. */
export function linearFit(points: ReadonlyArray<{ x: number; y: number }>): LinearFit | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const { x, y } of points) {
    sxx += (x - meanX) ** 2;
    sxy += (x - meanX) * (y - meanY);
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  return { slope, intercept: meanY - slope * meanX };
}

/** The samples the fit uses: those taken after the warm-up. */
export function afterWarmup(samples: readonly SoakSample[], warmupSeconds: number): SoakSample[] {
  return samples.filter((sample) => sample.elapsedSeconds >= warmupSeconds);
}

/** Growth of `metric` per 1,000 joins over these samples; undefined when they span no joins. */
export function growthPer1000Joins(samples: readonly SoakSample[], metric: MetricKey): number | undefined {
  const fit = linearFit(samples.map((sample) => ({ x: sample.joins, y: sample[metric] })));
  return fit === undefined ? undefined : fit.slope * 1000;
}

export interface MetricVerdict {
  metric: MetricKey;
  first: number | undefined;
  last: number | undefined;
  per1000Joins: number | undefined;
  /** null: reported only. */
  limit: number | null;
  pass: boolean;
}

export interface CountCheck {
  what: string;
  metric: MetricKey;
  expected: number;
  actual: number;
  pass: boolean;
}

export interface SoakVerdict {
  pass: boolean;
  /** Joins the fit spans (after warm-up). */
  fittedJoins: number;
  fittedSamples: number;
  metrics: MetricVerdict[];
  checks: CountCheck[];
  /** Why the verdict cannot be trusted or failed beyond the metrics (too few samples, churn errors). */
  notes: string[];
}

/** Fewer joins than this after warm-up and the fit says nothing: the verdict fails as inconclusive. */
export const MIN_FITTED_JOINS = 200;
export const MIN_FITTED_SAMPLES = 3;

/** Counts after churn must equal `expected` (the state with only the browsers in). */
export function countChecks(what: string, expected: Partial<SoakSample>, actual: SoakSample): CountCheck[] {
  return COUNTED.filter((metric) => expected[metric] !== undefined).map((metric) => ({
    what,
    metric,
    expected: expected[metric]!,
    actual: actual[metric],
    pass: actual[metric] === expected[metric],
  }));
}

export function soakVerdict(
  samples: readonly SoakSample[],
  warmupSeconds: number,
  checks: readonly CountCheck[],
  thresholds: Record<MetricKey, Threshold> = THRESHOLDS,
): SoakVerdict {
  const fitted = afterWarmup(samples, warmupSeconds);
  const fittedJoins = fitted.length > 0 ? fitted[fitted.length - 1]!.joins - fitted[0]!.joins : 0;
  const notes: string[] = [];
  const conclusive = fitted.length >= MIN_FITTED_SAMPLES && fittedJoins >= MIN_FITTED_JOINS;
  if (!conclusive) {
    notes.push(
      `inconclusive: ${fitted.length} samples and ${fittedJoins} joins after warm-up (need ${MIN_FITTED_SAMPLES} and ${MIN_FITTED_JOINS}); run longer`,
    );
  }
  const metrics = METRICS.map((metric): MetricVerdict => {
    const per1000Joins = conclusive ? growthPer1000Joins(fitted, metric) : undefined;
    const limit = thresholds[metric].per1000Joins;
    return {
      metric,
      first: fitted[0]?.[metric],
      last: fitted[fitted.length - 1]?.[metric],
      per1000Joins,
      limit,
      pass: limit === null || (per1000Joins !== undefined && per1000Joins <= limit),
    };
  });
  const pass = conclusive && metrics.every((m) => m.pass) && checks.every((c) => c.pass);
  return { pass, fittedJoins, fittedSamples: fitted.length, metrics, checks: [...checks], notes };
}

export const sampleColumns: Column<SoakSample>[] = [
  { header: 'min', width: 5, value: (s) => cell(s.elapsedSeconds / 60, 1) },
  { header: 'joins', width: 6, value: (s) => cell(s.joins) },
  { header: 'rss MiB', width: 7, value: (s) => cell(s.rssMiB, 1) },
  { header: 'heap MiB', width: 8, value: (s) => cell(s.heapUsedMiB, 2) },
  { header: 'loop p99', width: 8, value: (s) => cell(s.loopDelayP99Ms, 1) },
  { header: 'loop max', width: 8, value: (s) => cell(s.loopDelayMaxMs, 0) },
  { header: 'handles', width: 7, value: (s) => cell(s.handles) },
  { header: 'fds', width: 4, value: (s) => cell(s.fds) },
  { header: 'routers', width: 7, value: (s) => cell(s.routers) },
  { header: 'transp', width: 6, value: (s) => cell(s.transports) },
  { header: 'prod', width: 4, value: (s) => cell(s.producers) },
  { header: 'cons', width: 4, value: (s) => cell(s.consumers) },
  { header: 'dataP', width: 5, value: (s) => cell(s.dataProducers) },
  { header: 'obs', width: 3, value: (s) => cell(s.rtpObservers) },
  { header: 'wObj', width: 4, value: (s) => cell(s.workerObjects) },
  { header: 'rooms', width: 5, value: (s) => cell(s.rooms) },
  { header: 'peers', width: 5, value: (s) => cell(s.peers) },
  { header: 'workers MiB', width: 11, value: (s) => cell(s.workersRssMiB, 1) },
];

const DIGITS: Partial<Record<MetricKey, number>> = { rssMiB: 1, heapUsedMiB: 2, workersRssMiB: 1, loopDelayP99Ms: 1 };

export const verdictColumns: Column<MetricVerdict>[] = [
  { header: 'metric', width: 14, value: (m) => m.metric },
  { header: 'first', width: 8, value: (m) => cell(m.first, DIGITS[m.metric] ?? 0) },
  { header: 'last', width: 8, value: (m) => cell(m.last, DIGITS[m.metric] ?? 0) },
  { header: 'per 1k joins', width: 12, value: (m) => cell(m.per1000Joins, 3) },
  { header: 'limit', width: 6, value: (m) => (m.limit === null ? '-' : String(m.limit)) },
  { header: 'result', width: 6, value: (m) => (m.limit === null ? 'info' : m.pass ? 'PASS' : 'FAIL') },
];

export const checkColumns: Column<CountCheck>[] = [
  { header: 'after churn', width: 22, value: (c) => c.what },
  { header: 'metric', width: 14, value: (c) => c.metric },
  { header: 'expected', width: 8, value: (c) => String(c.expected) },
  { header: 'actual', width: 6, value: (c) => String(c.actual) },
  { header: 'result', width: 6, value: (c) => (c.pass ? 'PASS' : 'FAIL') },
];
