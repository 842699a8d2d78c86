/**
 * Holding a load steady for a while and sampling it once a second: the measuring loop the ramp
 * benchmarks share.
 */
import { performance } from 'node:perf_hooks';
import { sleep } from './cli.ts';
import { type IntervalRates, type Snapshot, type SnapshotSources, ratesBetween, takeSnapshot } from './forwarding-sampler.ts';

export interface HoldResult {
  /** Over the whole hold. */
  rates: IntervalRates;
  /** The snapshot the hold ended on. */
  last: Snapshot;
}

/**
 * Holds the current load for `seconds`, calling `healthy` (which throws on a failure) and `onSecond`
 * with the rates of the last second at each tick; undefined if interrupted. Ticks are placed against
 * the start, so a slow snapshot does not stretch the hold.
 */
export async function holdLoad(
  sources: SnapshotSources,
  seconds: number,
  signal: AbortSignal,
  healthy: () => void,
  onSecond: (tick: number, ticks: number, rates: IntervalRates) => void,
): Promise<HoldResult | undefined> {
  const start = await takeSnapshot(sources);
  const ticks = Math.ceil(seconds);
  let previous = start;
  for (let tick = 1; tick <= ticks; tick++) {
    await sleep(start.at + Math.min(tick, seconds) * 1000 - performance.now(), signal);
    if (signal.aborted) return undefined;
    healthy();
    const now = await takeSnapshot(sources);
    onSecond(tick, ticks, ratesBetween(previous, now));
    previous = now;
  }
  return { rates: ratesBetween(start, previous), last: previous };
}
