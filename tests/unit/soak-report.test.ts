import { describe, expect, it } from 'vitest';
import {
  MIN_FITTED_JOINS,
  type SoakSample,
  THRESHOLDS,
  afterWarmup,
  countChecks,
  growthPer1000Joins,
  linearFit,
  soakVerdict,
} from '../bench/soak-report.ts';

/** A steady server: browsers' baseline counts, flat memory. */
function sample(elapsedSeconds: number, joins: number, fields: Partial<SoakSample> = {}): SoakSample {
  return {
    elapsedSeconds,
    joins,
    rssMiB: 180,
    heapUsedMiB: 50,
    loopDelayP99Ms: 20,
    loopDelayMaxMs: 100,
    handles: 25,
    fds: 49,
    routers: 2,
    transports: 4,
    producers: 4,
    consumers: 4,
    dataProducers: 0,
    rtpObservers: 2,
    workerObjects: 18,
    rooms: 1,
    peers: 2,
    workersRssMiB: 33,
    ...fields,
  };
}

/** Every 30 s, 150 joins a sample; `vary` gives the fields of sample i. */
function run(count: number, vary: (i: number) => Partial<SoakSample> = () => ({})): SoakSample[] {
  return Array.from({ length: count }, (_, i) => sample(i * 30, i * 150, vary(i)));
}

describe('linearFit', () => {
  it('recovers an exact line', () => {
    const fit = linearFit([0, 1, 2, 3].map((x) => ({ x, y: 3 * x + 7 })));
    expect(fit?.slope).toBeCloseTo(3, 10);
    expect(fit?.intercept).toBeCloseTo(7, 10);
  });

  it('gives the least-squares slope through noise', () => {
    // y = 2x with -1/+1 alternating noise; by hand: Σ(x-x̄)(e) = 3 and Σ(x-x̄)² = 17.5.
    const fit = linearFit([0, 1, 2, 3, 4, 5].map((x) => ({ x, y: 2 * x + (x % 2 ? 1 : -1) })));
    expect(fit?.slope).toBeCloseTo(2 + 3 / 17.5, 10);
    expect(fit?.intercept).toBeCloseTo(5 - (2 + 3 / 17.5) * 2.5, 10);
  });

  it('says nothing from one point, or from points with no spread in x', () => {
    expect(linearFit([{ x: 1, y: 1 }])).toBeUndefined();
    expect(linearFit([{ x: 5, y: 1 }, { x: 5, y: 9 }])).toBeUndefined();
  });
});

describe('growth per 1,000 joins', () => {
  it('is the slope against joins, not against time', () => {
    // 0.5 MiB more heap every 150 joins: 3.33 MiB per 1,000 joins.
    const samples = run(10, (i) => ({ heapUsedMiB: 50 + 0.5 * i }));
    expect(growthPer1000Joins(samples, 'heapUsedMiB')).toBeCloseTo(3.333, 3);
    expect(growthPer1000Joins(samples, 'handles')).toBe(0);
  });

  it('leaves the warm-up out of the fit', () => {
    // The heap grows during the first minute (caches, JIT), then stays flat.
    const samples = run(10, (i) => ({ heapUsedMiB: i < 2 ? 40 + 5 * i : 50 }));
    expect(growthPer1000Joins(samples, 'heapUsedMiB')).toBeGreaterThan(1);
    const fitted = afterWarmup(samples, 60);
    expect(fitted[0]?.elapsedSeconds).toBe(60);
    expect(growthPer1000Joins(fitted, 'heapUsedMiB')).toBeCloseTo(0, 10);
  });
});

describe('soakVerdict', () => {
  const settled = countChecks('browsers only', sample(0, 0), sample(600, 3000));

  it('passes a flat run whose counts return to the baseline', () => {
    const verdict = soakVerdict(run(21), 60, settled);
    expect(verdict.pass).toBe(true);
    expect(verdict.fittedSamples).toBe(19);
    expect(verdict.fittedJoins).toBe(18 * 150);
    expect(verdict.metrics.every((m) => m.pass && m.per1000Joins === 0)).toBe(true);
  });

  it('fails a leaked consumer every 100 joins, and names the metric', () => {
    const verdict = soakVerdict(run(21, (i) => ({ consumers: 4 + Math.floor((i * 150) / 100) })), 60, settled);
    expect(verdict.pass).toBe(false);
    const failed = verdict.metrics.filter((m) => !m.pass).map((m) => m.metric);
    expect(failed).toEqual(['consumers']);
  });

  it('tolerates growth under the limits (noise) and fails just above them', () => {
    const under = THRESHOLDS.rssMiB.per1000Joins! * 0.9;
    const over = THRESHOLDS.rssMiB.per1000Joins! * 1.1;
    const grow = (per1000: number) => run(21, (i) => ({ rssMiB: 180 + (per1000 * i * 150) / 1000 }));
    expect(soakVerdict(grow(under), 60, settled).pass).toBe(true);
    expect(soakVerdict(grow(over), 60, settled).pass).toBe(false);
  });

  it('reports the event-loop maximum without judging it: one stall says nothing about a leak', () => {
    const verdict = soakVerdict(run(21, (i) => ({ loopDelayMaxMs: 100 + 50 * i })), 60, settled);
    expect(verdict.pass).toBe(true);
    const max = verdict.metrics.find((m) => m.metric === 'loopDelayMaxMs');
    expect(max?.limit).toBeNull();
    expect(max?.per1000Joins).toBeCloseTo(333.3, 1);
  });

  it('fails when a count does not come back to the baseline after churn', () => {
    const checks = countChecks('everyone left', { rooms: 0, peers: 0, routers: 1 }, sample(600, 3000, { rooms: 0, peers: 0, routers: 3 }));
    expect(checks.map((c) => [c.metric, c.pass])).toEqual([
      ['routers', false],
      ['rooms', true],
      ['peers', true],
    ]);
    expect(soakVerdict(run(21), 60, checks).pass).toBe(false);
  });

  it('is inconclusive, so not a pass, when too few joins follow the warm-up', () => {
    const short = [sample(0, 0), sample(30, 50), sample(60, 100), sample(90, MIN_FITTED_JOINS - 1)];
    const verdict = soakVerdict(short, 0, settled);
    expect(verdict.pass).toBe(false);
    expect(verdict.notes[0]).toMatch(/inconclusive/);
    expect(verdict.metrics.every((m) => m.per1000Joins === undefined)).toBe(true);
  });
});
