/** What the browser benchmark computes from each page's samples, and its tables. */
import type { InboundSample } from './browser-participant.ts';
import { mean, quantile, round } from './statistics.ts';
import { type Column, cell } from './table.ts';

/** One reading of a page's inbound streams; `at` is performance.now() on the Node side. */
export interface PageSample {
  at: number;
  inbound: InboundSample[];
}

export interface PageResult {
  name: string;
  /** Page open → first remote video frame decoded, ms; null when that never happened in time. */
  joinMs: number | null;
  /** The first page waits for the second to arrive, so its wait is not a join time. */
  first: boolean;
  expectedVideoStreams: number;
  /** Remote video streams that decoded at least one frame during the hold. */
  decodingVideoStreams: number;
  framesDecoded: number;
  framesPerStreamPerSecond: number | null;
  /** One-second intervals in which some remote video decoded no new frame. */
  freezes: number;
  intervals: number;
  packetsLost: number;
  packetsReceived: number;
}

type Counters = Omit<InboundSample, 'key'>;

/** A page may hold two entries for one stream (a consumer replaced on reconnection): add them up. */
function byStream(sample: PageSample): Map<string, Counters> {
  const streams = new Map<string, Counters>();
  for (const { key, ...counters } of sample.inbound) {
    const sum = streams.get(key);
    if (!sum) streams.set(key, { ...counters });
    else {
      sum.framesDecoded += counters.framesDecoded;
      sum.packetsLost += counters.packetsLost;
      sum.packetsReceived += counters.packetsReceived;
    }
  }
  return streams;
}

export function pageResult(
  name: string,
  joinMs: number | null,
  first: boolean,
  expectedVideoStreams: number,
  samples: readonly PageSample[],
): PageResult {
  const readings = samples.map(byStream);
  // Each stream from its first to its last reading in the hold (a stream may start late).
  const firstSeen = new Map<string, { at: number; counters: Counters }>();
  const lastSeen = new Map<string, { at: number; counters: Counters }>();
  readings.forEach((reading, i) => {
    const at = samples[i]!.at;
    for (const [key, counters] of reading) {
      if (!firstSeen.has(key)) firstSeen.set(key, { at, counters });
      lastSeen.set(key, { at, counters });
    }
  });
  let framesDecoded = 0;
  let decodingVideoStreams = 0;
  const streamRates: number[] = [];
  let packetsLost = 0;
  let packetsReceived = 0;
  for (const [key, last] of lastSeen) {
    const start = firstSeen.get(key)!;
    // packetsLost is the receiver's estimate and can step back when late packets arrive.
    packetsLost += Math.max(0, last.counters.packetsLost - start.counters.packetsLost);
    packetsReceived += last.counters.packetsReceived - start.counters.packetsReceived;
    if (last.counters.kind !== 'video') continue;
    const frames = last.counters.framesDecoded - start.counters.framesDecoded;
    framesDecoded += frames;
    if (frames > 0) decodingVideoStreams++;
    const seconds = (last.at - start.at) / 1000;
    if (seconds > 0) streamRates.push(frames / seconds);
  }

  let freezes = 0;
  for (let i = 1; i < readings.length; i++) {
    const before = readings[i - 1]!;
    const now = readings[i]!;
    const stalled = [...now].some(([key, counters]) => {
      const previous = before.get(key);
      return counters.kind === 'video' && previous !== undefined && counters.framesDecoded <= previous.framesDecoded;
    });
    if (stalled) freezes++;
  }

  return {
    name,
    joinMs,
    first,
    expectedVideoStreams,
    decodingVideoStreams,
    framesDecoded,
    framesPerStreamPerSecond: mean(streamRates) ?? null,
    freezes,
    intervals: Math.max(0, readings.length - 1),
    packetsLost,
    packetsReceived,
  };
}

const lossPercent = (lost: number, received: number): number | null =>
  lost + received > 0 ? (lost / (lost + received)) * 100 : null;

export const pageColumns: Column<PageResult>[] = [
  { header: 'page', width: 4, value: (r) => r.name },
  { header: 'join ms', width: 7, value: (r) => (r.joinMs === null ? 'timeout' : `${cell(r.joinMs)}${r.first ? '*' : ''}`) },
  { header: 'video in', width: 8, value: (r) => `${r.decodingVideoStreams}/${r.expectedVideoStreams}` },
  { header: 'frames', width: 6, value: (r) => String(r.framesDecoded) },
  { header: 'fps/stream', width: 10, value: (r) => cell(r.framesPerStreamPerSecond, 1) },
  { header: 'freezes', width: 7, value: (r) => `${r.freezes}/${r.intervals}` },
  { header: 'loss %', width: 6, value: (r) => cell(lossPercent(r.packetsLost, r.packetsReceived), 2) },
];

export interface RunSummary {
  pages: number;
  /** Pages (after the first) that decoded remote video in time: the join-time sample. */
  joined: number;
  joinMs: { min: number | null; median: number | null; p95: number | null; max: number | null };
  /** From the last page opening until every page decoded video from every other; null if that never happened. */
  allVideoMs: number | null;
  framesPerStreamPerSecond: { mean: number | null; min: number | null };
  freezes: number;
  pagesWithFreezes: number;
  lossPercent: number | null;
}

export function summarize(results: readonly PageResult[], allVideoMs: number | null): RunSummary {
  const joins = results.filter((r) => !r.first && r.joinMs !== null).map((r) => r.joinMs!);
  const rates = results.map((r) => r.framesPerStreamPerSecond).filter((v): v is number => v !== null);
  const lost = results.reduce((n, r) => n + r.packetsLost, 0);
  const received = results.reduce((n, r) => n + r.packetsReceived, 0);
  return {
    pages: results.length,
    joined: joins.length,
    joinMs: {
      min: quantile(joins, 0) ?? null,
      median: quantile(joins, 0.5) ?? null,
      p95: quantile(joins, 0.95) ?? null,
      max: quantile(joins, 1) ?? null,
    },
    allVideoMs,
    framesPerStreamPerSecond: { mean: round(mean(rates), 2), min: round(rates.length ? Math.min(...rates) : null, 2) },
    freezes: results.reduce((n, r) => n + r.freezes, 0),
    pagesWithFreezes: results.filter((r) => r.freezes > 0).length,
    lossPercent: round(lossPercent(lost, received), 3),
  };
}

export const summaryColumns: Column<RunSummary>[] = [
  { header: 'pages', width: 5, value: (s) => String(s.pages) },
  { header: 'joined', width: 6, value: (s) => `${s.joined}/${s.pages - 1}` },
  { header: 'join min', width: 8, value: (s) => cell(s.joinMs.min) },
  { header: 'join median', width: 11, value: (s) => cell(s.joinMs.median) },
  { header: 'join p95', width: 8, value: (s) => cell(s.joinMs.p95) },
  { header: 'join max', width: 8, value: (s) => cell(s.joinMs.max) },
  { header: 'all video ms', width: 12, value: (s) => cell(s.allVideoMs) },
  { header: 'fps/stream mean', width: 15, value: (s) => cell(s.framesPerStreamPerSecond.mean, 1) },
  { header: 'fps/stream min', width: 14, value: (s) => cell(s.framesPerStreamPerSecond.min, 1) },
  { header: 'freezes', width: 7, value: (s) => String(s.freezes) },
  { header: 'pages frozen', width: 12, value: (s) => String(s.pagesWithFreezes) },
  { header: 'loss %', width: 6, value: (s) => cell(s.lossPercent, 2) },
];
