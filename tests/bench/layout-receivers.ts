/**
 * The receiving side of a synthetic meeting: one PlainTransport per participant, sending to its own
 * sink socket on 127.0.0.1, with one video consumer of every other participant's camera. The layout
 * benchmark drives these server-side consumers directly (pause, resume, preferred layers), as the
 * server does when a client reports what it shows.
 */
import { performance } from 'node:perf_hooks';
import type { types } from 'mediasoup';
import { sleep } from './cli.ts';
import type { LayoutPlan, Wanted } from './layout-plans.ts';
import type { RtpSink } from './rtp-sink.ts';
import type { SrtpSuite } from './srtp.ts';
import { createReceiverTransport, sendingKey } from './synthetic-receivers.ts';

/** Bandwidth estimation, which plain-RTP receivers cannot take part in. */
const BWE_FEEDBACK = new Set(['transport-cc', 'goog-remb']);
const BWE_EXTENSIONS = new Set([
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
]);
/**
 * Layer and pause requests in flight at once: 600 consumers switch in well under a keyframe interval,
 * without thousands of requests queued on the worker's channel.
 */
const REQUEST_CONCURRENCY = 64;

/**
 * The router's capabilities without bandwidth estimation. With it, mediasoup would pick each consumer's
 * layer from an estimate fed by the receiver's transport-cc or REMB feedback; the sink sends none, so
 * the estimate would stay at its starting 600 kbit/s per transport and the layers measured would be the
 * estimator's, not the layout's. Without it, a simulcast consumer gets its preferred layer whenever
 * that layer is flowing.
 */
export function capabilitiesWithoutBwe(router: types.Router): types.RtpCapabilities {
  const { codecs, headerExtensions } = router.rtpCapabilities;
  return {
    codecs: codecs?.map((codec) => ({ ...codec, rtcpFeedback: codec.rtcpFeedback?.filter((fb) => !BWE_FEEDBACK.has(fb.type)) ?? [] })),
    headerExtensions: headerExtensions?.filter((extension) => !BWE_EXTENSIONS.has(extension.uri)),
  };
}

export interface MeetingConsumer {
  receiver: number;
  publisher: number;
  consumer: types.Consumer;
}

/** A consumer whose current layer is not what its receiver asked for. */
export interface LayerMismatch {
  receiver: number;
  publisher: number;
  wanted: string;
  got: string;
}

/** Active consumers by the spatial layer they are on; `none` for resumed consumers forwarding nothing. */
export interface LayerCensus {
  active: number;
  paused: number;
  byLayer: number[];
  none: number;
  mismatches: LayerMismatch[];
}

function describeWanted(wanted: Wanted): string {
  return wanted.paused ? 'paused' : `layer ${wanted.spatialLayer}`;
}

/** What the consumer does now, in the words of describeWanted. */
function describeCurrent(consumer: types.Consumer): string {
  if (consumer.paused) return 'paused';
  // mediasoup reports null layers (typed undefined) while a resumed consumer forwards nothing.
  const layers = consumer.currentLayers;
  return layers ? `layer ${layers.spatialLayer}` : 'no layer';
}

async function inBatches<T>(items: readonly T[], run: (item: T) => Promise<void>): Promise<void> {
  for (let start = 0; start < items.length; start += REQUEST_CONCURRENCY) {
    await Promise.all(items.slice(start, start + REQUEST_CONCURRENCY).map(run));
  }
}

export class MeetingReceivers {
  readonly #transports: types.PlainTransport[] = [];
  readonly #consumers: MeetingConsumer[] = [];

  /**
   * Sets up a receiver for each participant, consuming every other participant's producer (paused,
   * as the server creates them). `producers[i]` is participant i's camera; receiver i uses sink
   * socket i. Each consumer's SSRC is watched before anything can be forwarded to it. With `srtp`,
   * every receiver's transport encrypts with that suite.
   */
  static async create(
    router: types.Router,
    producers: readonly types.Producer[],
    sink: RtpSink,
    srtp: SrtpSuite | undefined,
    signal: AbortSignal,
    onProgress: (done: number) => void,
  ): Promise<MeetingReceivers> {
    const receivers = new MeetingReceivers();
    const rtpCapabilities = capabilitiesWithoutBwe(router);
    try {
      for (let receiver = 0; receiver < producers.length && !signal.aborted; receiver++) {
        const transport = await createReceiverTransport(router, sink.portFor(receiver), srtp);
        receivers.#transports.push(transport);
        for (const [publisher, producer] of producers.entries()) {
          if (publisher === receiver) continue;
          const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities, paused: true });
          if (consumer.type !== 'simulcast') throw new Error(`consumer of participant ${publisher} is ${consumer.type}, not simulcast`);
          const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
          if (ssrc === undefined) throw new Error(`consumer ${consumer.id} has no SSRC`);
          sink.watch(ssrc, 'video', sendingKey(transport));
          receivers.#consumers.push({ receiver, publisher, consumer });
        }
        onProgress(receiver + 1);
      }
      // The consumers are resumed later, by apply(): by then the sink must know every SSRC.
      await sink.synced();
    } catch (error) {
      receivers.close();
      throw error;
    }
    return receivers;
  }

  get receivers(): number {
    return this.#transports.length;
  }

  get consumers(): readonly MeetingConsumer[] {
    return this.#consumers;
  }

  /**
   * Applies a layout: a hidden tile's consumer is paused; a shown one gets its preferred layer first
   * and is resumed after, so it never starts on a layer it was not asked for.
   */
  async apply(plan: LayoutPlan): Promise<void> {
    await inBatches(this.#consumers, async ({ receiver, publisher, consumer }) => {
      const wanted = plan.wanted(receiver, publisher);
      if (wanted.paused) {
        if (!consumer.paused) await consumer.pause();
        return;
      }
      await consumer.setPreferredLayers({ spatialLayer: wanted.spatialLayer });
      if (consumer.paused) await consumer.resume();
    });
  }

  /** How the consumers stand against the plan, from the layers mediasoup last reported. */
  census(plan: LayoutPlan): LayerCensus {
    const census: LayerCensus = { active: 0, paused: 0, byLayer: [0, 0, 0], none: 0, mismatches: [] };
    for (const { receiver, publisher, consumer } of this.#consumers) {
      const layers = consumer.paused ? undefined : consumer.currentLayers;
      if (consumer.paused) census.paused++;
      else census.active++;
      if (layers) census.byLayer[layers.spatialLayer] = (census.byLayer[layers.spatialLayer] ?? 0) + 1;
      else if (!consumer.paused) census.none++;
      const wanted = describeWanted(plan.wanted(receiver, publisher));
      const got = describeCurrent(consumer);
      if (wanted !== got) census.mismatches.push({ receiver, publisher, wanted, got });
    }
    return census;
  }

  /**
   * Waits until every consumer is on the layer the plan asks for (a switch waits for the target
   * layer's next keyframe), or `timeoutMs` passes; returns the census at that moment.
   */
  async settle(plan: LayoutPlan, timeoutMs: number, signal: AbortSignal, healthy: () => void): Promise<LayerCensus> {
    const deadline = performance.now() + timeoutMs;
    let census = this.census(plan);
    while (census.mismatches.length > 0 && performance.now() < deadline && !signal.aborted) {
      healthy();
      await sleep(100, signal);
      census = this.census(plan);
    }
    return census;
  }

  close(): void {
    for (const transport of this.#transports) transport.close();
  }
}
