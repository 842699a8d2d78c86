/**
 * What the bad-network benchmark makes of the pages' stats samples: per-phase figures for the
 * receiver and the publisher, event times (layer down, layer back, top layer stopped), tables and
 * verdicts. Pure functions of the samples, so they can be checked without browsers.
 */
import type { InboundRtp, OutboundRtp, StatsSample } from './network-meeting.ts';
import { median, round } from './statistics.ts';
import { type Column, cell, table } from './table.ts';

/** A stretch of a scenario, epoch ms. */
export interface Phase {
  name: string;
  from: number;
  to: number;
}

/** A received video stream is stalled over a sampling interval in which it decoded no new frame. */
export interface Stall {
  at: number;
  seconds: number;
}

export interface ReceiverFigures {
  seconds: number;
  fps: number | null;
  widthMin: number | null;
  widthMedian: number | null;
  widthMax: number | null;
  /** Share of samples at the top width, %. */
  atTopPct: number | null;
  videoKbps: number | null;
  audioKbps: number | null;
  /** Chromium's own freeze counters (inbound-rtp freezeCount, totalFreezesDuration). */
  freezes: number | null;
  frozenSeconds: number | null;
  /** Runs of sampling intervals without a decoded frame (each interval ≥ the sampling period). */
  stalls: number;
  stalledSeconds: number;
  longestStallSeconds: number;
  /** Time over intervals in which not one video byte arrived: the server sent no layer at all. */
  noVideoSeconds: number;
  /** packetsLost ÷ (packetsLost + packetsReceived): what is still missing after retransmissions. */
  videoLossPct: number | null;
  audioLossPct: number | null;
  /** NACKs and PLIs the receiver sent to the server. */
  nacksSent: number;
  plisSent: number;
  /** concealedSamples ÷ totalSamplesReceived, audio. */
  concealedPct: number | null;
  fecPackets: number;
}

export interface LayerFigures {
  rid: string;
  kbps: number | null;
  /** Median frameWidth over the samples in which the layer sent something. */
  width: number | null;
  /** Share of the phase the encoder reported a bandwidth (cpu) limitation, %. */
  bandwidthLimitedPct: number | null;
  cpuLimitedPct: number | null;
  /** The most frequent qualityLimitationReason over the phase. */
  reason: string;
}

export interface PublisherFigures {
  layers: LayerFigures[];
  /** NACKs the server sent to the publisher (video outbound nackCount) and what it resent. */
  nacksReceived: number;
  retransmittedPackets: number;
  /** Mean of the server's receiver-report fractionLost over the publisher's video streams, %. */
  uplinkLossPct: number | null;
  /** Mean send-side bandwidth estimate (candidate pair availableOutgoingBitrate). */
  estimateKbps: number | null;
}

export interface PhaseFigures {
  phase: string;
  receiver: ReceiverFigures;
  publisher: PublisherFigures;
}

function within(samples: readonly StatsSample[], phase: Phase): StatsSample[] {
  return samples.filter((s) => s.at >= phase.from && s.at <= phase.to);
}

type Numeric<T> = { [K in keyof T]: T[K] extends number ? K : never }[keyof T];

/** Sum over streams of (last − first) of a counter, each stream over the samples it appears in. */
function delta<T extends InboundRtp | OutboundRtp>(
  samples: readonly StatsSample[],
  pick: (s: StatsSample) => T[],
  field: Numeric<T>,
): number {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  for (const sample of samples) {
    for (const stream of pick(sample)) {
      const value = stream[field] as number;
      if (!first.has(stream.ssrc)) first.set(stream.ssrc, value);
      last.set(stream.ssrc, value);
    }
  }
  let sum = 0;
  for (const [ssrc, value] of last) sum += value - first.get(ssrc)!;
  return sum;
}

/** Seconds between the first and the last stats timestamp of the given streams. */
function span<T extends InboundRtp | OutboundRtp>(samples: readonly StatsSample[], pick: (s: StatsSample) => T[]): number {
  const times = samples.flatMap((s) => pick(s).map((r) => r.ts));
  return times.length < 2 ? 0 : (Math.max(...times) - Math.min(...times)) / 1000;
}

const video = (s: StatsSample) => s.inbound.filter((r) => r.kind === 'video');
const audio = (s: StatsSample) => s.inbound.filter((r) => r.kind === 'audio');

/** The widest frame the receiver decodes in a sample (0 when none). */
export function receivedWidth(sample: StatsSample): number {
  return Math.max(0, ...video(sample).map((r) => r.frameWidth));
}

const framesOf = (sample: StatsSample) => video(sample).reduce((n, r) => n + r.framesDecoded, 0);

/** Every interval between consecutive samples with no new decoded frame, merged into runs. */
export function stalls(samples: readonly StatsSample[]): Stall[] {
  const runs: Stall[] = [];
  let open: Stall | undefined;
  for (let i = 1; i < samples.length; i++) {
    const before = samples[i - 1]!;
    const now = samples[i]!;
    if (video(now).length === 0 || video(before).length === 0) continue;
    if (framesOf(now) <= framesOf(before)) {
      const seconds = (now.at - before.at) / 1000;
      if (open) open.seconds += seconds;
      else runs.push((open = { at: before.at, seconds }));
    } else {
      open = undefined;
    }
  }
  return runs;
}

const videoBytes = (sample: StatsSample) => video(sample).reduce((n, r) => n + r.bytesReceived, 0);

/** Seconds over sampling intervals in which the received video's byte count did not move. */
export function silentSeconds(samples: readonly StatsSample[]): number {
  let seconds = 0;
  for (let i = 1; i < samples.length; i++) {
    const before = samples[i - 1]!;
    const now = samples[i]!;
    if (video(now).length === 0 || video(before).length === 0) continue;
    if (videoBytes(now) <= videoBytes(before)) seconds += (now.at - before.at) / 1000;
  }
  return seconds;
}

function pct(part: number, whole: number): number | null {
  return whole > 0 ? (100 * part) / whole : null;
}

function rate(bytes: number, seconds: number): number | null {
  return seconds > 0 ? (bytes * 8) / 1000 / seconds : null;
}

export function receiverFigures(all: readonly StatsSample[], phase: Phase, topWidth: number): ReceiverFigures {
  const samples = within(all, phase);
  const widths = samples.map(receivedWidth).filter((w) => w > 0);
  const videoSeconds = span(samples, video);
  const audioSeconds = span(samples, audio);
  const lostVideo = delta(samples, video, 'packetsLost');
  const lostAudio = delta(samples, audio, 'packetsLost');
  const runs = stalls(samples);
  // Chromium counts freezes itself; a browser without the counter gets "-" and only the stalls.
  const hasFreezeCounter = samples.some((s) => video(s).length > 0) && samples.every((s) => video(s).every((r) => r.hasFreezeCount));
  return {
    seconds: (phase.to - phase.from) / 1000,
    fps: videoSeconds > 0 ? delta(samples, video, 'framesDecoded') / videoSeconds : null,
    widthMin: widths.length ? Math.min(...widths) : null,
    widthMedian: median(widths) ?? null,
    widthMax: widths.length ? Math.max(...widths) : null,
    atTopPct: pct(widths.filter((w) => w >= topWidth).length, samples.length),
    videoKbps: rate(delta(samples, video, 'bytesReceived'), videoSeconds),
    audioKbps: rate(delta(samples, audio, 'bytesReceived'), audioSeconds),
    freezes: hasFreezeCounter ? delta(samples, video, 'freezeCount') : null,
    frozenSeconds: hasFreezeCounter ? delta(samples, video, 'totalFreezesDuration') : null,
    stalls: runs.length,
    stalledSeconds: runs.reduce((s, r) => s + r.seconds, 0),
    longestStallSeconds: Math.max(0, ...runs.map((r) => r.seconds)),
    noVideoSeconds: silentSeconds(samples),
    videoLossPct: pct(lostVideo, lostVideo + delta(samples, video, 'packetsReceived')),
    audioLossPct: pct(lostAudio, lostAudio + delta(samples, audio, 'packetsReceived')),
    nacksSent: delta(samples, video, 'nackCount'),
    plisSent: delta(samples, video, 'pliCount'),
    concealedPct: pct(delta(samples, audio, 'concealedSamples'), delta(samples, audio, 'totalSamplesReceived')),
    fecPackets: delta(samples, audio, 'fecPacketsReceived'),
  };
}

const videoOut = (s: StatsSample) => s.outbound.filter((r) => r.kind === 'video');

/** The publisher's simulcast rids, lowest first. */
export function rids(samples: readonly StatsSample[]): string[] {
  return [...new Set(samples.flatMap((s) => videoOut(s).map((r) => r.rid)))].sort();
}

/** kbit/s each rid sent over each sampling interval, keyed by the interval's end. */
export function layerRates(samples: readonly StatsSample[], rid: string): { at: number; kbps: number }[] {
  const out: { at: number; kbps: number }[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = videoOut(samples[i - 1]!).find((r) => r.rid === rid);
    const b = videoOut(samples[i]!).find((r) => r.rid === rid);
    if (!a || !b || b.ts <= a.ts) continue;
    out.push({ at: samples[i]!.at, kbps: ((b.bytesSent - a.bytesSent) * 8) / (b.ts - a.ts) });
  }
  return out;
}

export function publisherFigures(all: readonly StatsSample[], phase: Phase): PublisherFigures {
  const samples = within(all, phase);
  const layers = rids(samples).map((rid): LayerFigures => {
    const of = (s: StatsSample) => videoOut(s).filter((r) => r.rid === rid);
    const seconds = span(samples, of);
    const rates = layerRates(samples, rid);
    const sending = new Set(rates.filter((r) => r.kbps > 5).map((r) => r.at));
    const widths = samples.filter((s) => sending.has(s.at)).flatMap((s) => of(s).map((r) => r.frameWidth)).filter((w) => w > 0);
    const reasons = new Map<string, number>();
    for (const s of samples) for (const r of of(s)) reasons.set(r.qualityLimitationReason, (reasons.get(r.qualityLimitationReason) ?? 0) + 1);
    const reason = [...reasons].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
    return {
      rid,
      kbps: rate(delta(samples, of, 'bytesSent'), seconds),
      width: median(widths) ?? null,
      bandwidthLimitedPct: seconds > 0 ? pct(delta(samples, of, 'limitedByBandwidth'), seconds) : null,
      cpuLimitedPct: seconds > 0 ? pct(delta(samples, of, 'limitedByCpu'), seconds) : null,
      reason,
    };
  });
  const losses = samples.flatMap((s) => s.remoteInbound.filter((r) => r.kind === 'video').map((r) => r.fractionLost));
  const estimates = samples.map((s) => s.availableOutgoingBitrate).filter((b): b is number => typeof b === 'number');
  return {
    layers,
    nacksReceived: delta(samples, videoOut, 'nackCount'),
    retransmittedPackets: delta(samples, videoOut, 'retransmittedPacketsSent'),
    uplinkLossPct: losses.length ? (100 * losses.reduce((a, b) => a + b, 0)) / losses.length : null,
    estimateKbps: estimates.length ? estimates.reduce((a, b) => a + b, 0) / estimates.length / 1000 : null,
  };
}

export function phaseFigures(samples: { publisher: StatsSample[]; receiver: StatsSample[] }, phase: Phase, topWidth: number): PhaseFigures {
  return { phase: phase.name, receiver: receiverFigures(samples.receiver, phase, topWidth), publisher: publisherFigures(samples.publisher, phase) };
}

/** Seconds from `since` to the first sample (after it, up to `until`) that matches; null if none did. */
export function firstAfter(samples: readonly StatsSample[], since: number, until: number, match: (s: StatsSample, i: number) => boolean): number | null {
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (s.at <= since || s.at > until) continue;
    if (match(s, i)) return (s.at - since) / 1000;
  }
  return null;
}

/**
 * Seconds from `since` to the first sample from which `match` holds for `holdMs` (or, near `until`,
 * for every sample left); null if that never happens.
 */
export function holdsFrom(
  samples: readonly StatsSample[],
  since: number,
  until: number,
  match: (s: StatsSample) => boolean,
  holdMs: number,
): number | null {
  return firstAfter(samples, since, until, (s) =>
    samples.filter((w) => w.at >= s.at && w.at <= Math.min(s.at + holdMs, until)).every(match),
  );
}

/**
 * When the receiver's downlink is capped: the first sample from which the receiver decodes a lower
 * layer and, over the trailing `windowMs`, stays below the top width, keeps decoding (no stalled
 * interval) and misses under `maxLossPct` of its video packets. A layer that does not fit the link
 * loses packets at the bottleneck; one that fits does not.
 */
export function fitsAfter(
  samples: readonly StatsSample[],
  since: number,
  until: number,
  topWidth: number,
  windowMs: number,
  maxLossPct: number,
): number | null {
  return firstAfter(samples, since, until, (s) => {
    if (s.at - windowMs < since) return false;
    const window = samples.filter((w) => w.at >= s.at - windowMs && w.at <= s.at);
    if (window.length < 2) return false;
    if (window.some((w) => receivedWidth(w) === 0 || receivedWidth(w) >= topWidth)) return false;
    if (stalls(window).length > 0) return false;
    const lost = delta(window, video, 'packetsLost');
    const loss = pct(lost, lost + delta(window, video, 'packetsReceived'));
    return loss !== null && loss < maxLossPct;
  });
}

// ---------------------------------------------------------------------------------------------
// Tables

const receiverColumns: Column<PhaseFigures>[] = [
  { header: 'phase', width: 11, value: (r) => r.phase },
  { header: 's', width: 4, value: (r) => cell(r.receiver.seconds, 0) },
  { header: 'fps', width: 4, value: (r) => cell(r.receiver.fps, 1) },
  { header: 'width min/med/max', width: 17, value: (r) => `${cell(r.receiver.widthMin)}/${cell(r.receiver.widthMedian)}/${cell(r.receiver.widthMax)}` },
  { header: 'at top %', width: 8, value: (r) => cell(r.receiver.atTopPct, 0) },
  { header: 'video kbit/s', width: 12, value: (r) => cell(r.receiver.videoKbps, 0) },
  { header: 'freezes', width: 7, value: (r) => cell(r.receiver.freezes) },
  { header: 'frozen s', width: 8, value: (r) => cell(r.receiver.frozenSeconds, 2) },
  { header: 'stalls', width: 6, value: (r) => String(r.receiver.stalls) },
  { header: 'stalled s', width: 9, value: (r) => cell(r.receiver.stalledSeconds, 1) },
  { header: 'no data s', width: 9, value: (r) => cell(r.receiver.noVideoSeconds, 1) },
  { header: 'video loss %', width: 12, value: (r) => cell(r.receiver.videoLossPct, 2) },
  { header: 'NACK sent', width: 9, value: (r) => String(r.receiver.nacksSent) },
  { header: 'PLI sent', width: 8, value: (r) => String(r.receiver.plisSent) },
  { header: 'audio loss %', width: 12, value: (r) => cell(r.receiver.audioLossPct, 2) },
  { header: 'concealed %', width: 11, value: (r) => cell(r.receiver.concealedPct, 2) },
];

function layerCell(r: PhaseFigures, pick: (l: LayerFigures) => string): string {
  return r.publisher.layers.map(pick).join('/') || '-';
}

const publisherColumns: Column<PhaseFigures>[] = [
  { header: 'phase', width: 11, value: (r) => r.phase },
  { header: 'layers', width: 8, value: (r) => r.publisher.layers.map((l) => l.rid).join('/') || '-' },
  { header: 'kbit/s per layer', width: 16, value: (r) => layerCell(r, (l) => cell(l.kbps, 0)) },
  { header: 'width per layer', width: 15, value: (r) => layerCell(r, (l) => cell(l.width)) },
  { header: 'bw-limited %', width: 12, value: (r) => cell(Math.max(0, ...r.publisher.layers.map((l) => l.bandwidthLimitedPct ?? 0)), 0) },
  { header: 'cpu-limited %', width: 13, value: (r) => cell(Math.max(0, ...r.publisher.layers.map((l) => l.cpuLimitedPct ?? 0)), 0) },
  { header: 'estimate kbit/s', width: 15, value: (r) => cell(r.publisher.estimateKbps, 0) },
  { header: 'uplink loss %', width: 13, value: (r) => cell(r.publisher.uplinkLossPct, 2) },
  { header: 'NACK in', width: 7, value: (r) => String(r.publisher.nacksReceived) },
  { header: 'RTX out', width: 7, value: (r) => String(r.publisher.retransmittedPackets) },
];

export function receiverTable(rows: readonly PhaseFigures[]): string {
  return table(receiverColumns, rows);
}

export function publisherTable(rows: readonly PhaseFigures[]): string {
  return table(publisherColumns, rows);
}

/** Rounds every number in a figures object for the JSON line. */
export function rounded<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' ? round(v, 2) : v))) as T;
}
