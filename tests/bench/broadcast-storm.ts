/**
 * The broadcast benchmark's join storm: viewers join one speaker at an even pace, and for each one the
 * time from asking for its video consumer to the first keyframe packet at the sink is recorded, with
 * the keyframe requests mediasoup sent the speaker meanwhile.
 */
import { performance } from 'node:perf_hooks';
import type { types } from 'mediasoup';
import { ToolError, sleep } from './cli.ts';
import { type IntervalRates, type Snapshot, type SnapshotSources, ratesBetween, takeSnapshot } from './forwarding-sampler.ts';
import type { RtpSink } from './rtp-sink.ts';
import { type FeedbackCounts, feedbackSent } from './synthetic-publisher.ts';
import type { ConsumerObserver, ReceiverFleet } from './synthetic-receivers.ts';
import { cell } from './table.ts';

/**
 * Times each video consumer from the start of its creation to its first keyframe packet at the sink.
 * Only while armed: the ramp that follows adds hundreds of viewers nobody times.
 */
export class FirstFrameTimer {
  readonly #sink: RtpSink;
  readonly #milliseconds: number[] = [];
  #armed = false;

  constructor(sink: RtpSink) {
    this.#sink = sink;
  }

  /**
   * For ReceiverFleet: called for every consumer, before it is resumed. `startedAt` and the sink's
   * arrival time are both sinkClock() readings (epoch-based), so they compare across the processes.
   */
  readonly observe: ConsumerObserver = (consumer, ssrc, startedAt) => {
    if (!this.#armed || consumer.kind !== 'video') return;
    this.#sink.watchFirst(ssrc, 'vp8-keyframe', (at) => this.#milliseconds.push(at - startedAt));
  };

  arm(armed: boolean): void {
    this.#armed = armed;
  }

  /** Time to first frame of each viewer that has had one, in arrival order, in ms. */
  get milliseconds(): readonly number[] {
    return this.#milliseconds;
  }
}

export interface StormPlan {
  viewers: number;
  /** Viewers start evenly spaced over this many seconds. */
  seconds: number;
  /** After the last viewer starts, how long the storm waits for first frames still missing. */
  firstFrameTimeoutMs: number;
}

export interface StormContext {
  fleet: ReceiverFleet;
  timer: FirstFrameTimer;
  sources: SnapshotSources;
  video: types.Producer;
  signal: AbortSignal;
  /** Throws when the run can no longer be trusted (ffmpeg or a worker stopped). */
  healthy: () => void;
  /** One line a second. */
  onProgress: (line: string) => void;
}

export interface StormResult {
  viewers: number;
  /** Viewers whose transport and consumers were set up. */
  joined: number;
  /** Time to first frame of each viewer that had one, in ms, in arrival order. */
  firstFrameMs: number[];
  /** From the first viewer's start until the last first frame (or the timeout), in seconds. */
  seconds: number;
  /** Sent to the speaker over the storm. */
  feedback: FeedbackCounts;
  /** The same, for each second of the storm (the last interval may be shorter). */
  feedbackPerSecond: FeedbackCounts[];
  /** Worker, node and sink figures over the storm. */
  rates: IntervalRates;
  /** The pool's counts at the end of the storm. */
  last: Snapshot;
}

const difference = (to: FeedbackCounts, from: FeedbackCounts): FeedbackCounts => ({
  pli: to.pli - from.pli,
  fir: to.fir - from.fir,
  nack: to.nack - from.nack,
});

/**
 * Starts `plan.viewers` viewers at an even pace, without waiting for one to be set up before the next
 * starts (a storm, not a queue), and waits until each has had its first keyframe or the timeout has
 * passed. Undefined if interrupted.
 */
export async function runJoinStorm(plan: StormPlan, context: StormContext): Promise<StormResult | undefined> {
  const { fleet, timer, sources, video, signal } = context;
  const spacingMs = (plan.seconds * 1000) / plan.viewers;
  let started = 0;
  let joined = 0;
  let joinError: unknown;
  const healthy = (): void => {
    context.healthy();
    if (joinError !== undefined) {
      const message = joinError instanceof Error ? joinError.message : String(joinError);
      throw new ToolError(`a viewer could not join during the storm: ${message}`);
    }
  };

  timer.arm(true);
  const first = { snapshot: await takeSnapshot(sources), feedback: await feedbackSent(video) };
  const t0 = first.snapshot.at;
  let previous = first;
  const feedbackPerSecond: FeedbackCounts[] = [];
  const sample = async (): Promise<typeof first> => {
    const now = { snapshot: await takeSnapshot(sources), feedback: await feedbackSent(video) };
    feedbackPerSecond.push(difference(now.feedback, previous.feedback));
    return now;
  };

  let nextTick = t0 + 1000;
  let lastStartAt = t0;
  for (;;) {
    if (signal.aborted) return undefined;
    healthy();
    let now = performance.now();
    while (started < plan.viewers && t0 + started * spacingMs <= now) {
      started++;
      lastStartAt = now;
      void fleet.add().then(
        () => joined++,
        (error: unknown) => {
          joinError ??= error;
        },
      );
    }
    if (now >= nextTick) {
      const current = await sample();
      const rates = ratesBetween(previous.snapshot, current.snapshot);
      const requests = feedbackPerSecond[feedbackPerSecond.length - 1]!;
      context.onProgress(
        `storm ${Math.round((current.snapshot.at - t0) / 1000)} s | ${joined}/${plan.viewers} joined | ` +
          `${timer.milliseconds.length} first frames | speaker got PLI ${requests.pli}, FIR ${requests.fir}, NACK ${requests.nack} | ` +
          `out ${cell(rates.outPacketsPerSecond)} pkt/s | worker cpu ${rates.workerCpuPercent.map((v) => cell(v)).join('/')}% | ` +
          `node ${cell(rates.nodeCpuPercent)}% | sink ${cell(rates.sinkCpuPercent)}%`,
      );
      previous = current;
      now = performance.now();
      // After a stall (a busy event loop), skip the missed ticks rather than print a burst of lines.
      while (nextTick <= now) nextTick += 1000;
    }
    const allStarted = started === plan.viewers;
    if (allStarted && joined === plan.viewers && timer.milliseconds.length === plan.viewers) break;
    if (allStarted && now - lastStartAt > plan.firstFrameTimeoutMs) break;
    // Wake for whichever comes first: the next viewer, the next progress line, or (once every viewer
    // has started) a short poll for the first frames still missing.
    const wakeAt = Math.min(nextTick, allStarted ? now + 20 : t0 + started * spacingMs);
    await sleep(wakeAt - now, signal);
  }
  timer.arm(false);

  const last = await sample();
  return {
    viewers: plan.viewers,
    joined,
    firstFrameMs: [...timer.milliseconds],
    seconds: (last.snapshot.at - t0) / 1000,
    feedback: difference(last.feedback, first.feedback),
    feedbackPerSecond,
    rates: ratesBetween(first.snapshot, last.snapshot),
    last: last.snapshot,
  };
}
