/**
 * Synthetic receivers: each is a PlainTransport sending to the RTP sink on 127.0.0.1, with one consumer
 * per producer. No browser, no DTLS/SRTP, no congestion feedback: what is left is mediasoup's
 * forwarding work, which is what the benchmark measures.
 */
import { performance } from 'node:perf_hooks';
import type { types } from 'mediasoup';
import type { RtpSink } from './rtp-sink.ts';

export interface ReceiverTarget {
  router: types.Router;
  producerIds: readonly string[];
}

/**
 * Told of each consumer once it exists (paused) and its SSRC is watched, before it is resumed, so
 * nothing it forwards can be missed. `startedAt` is the performance.now() time just before
 * transport.consume() was called.
 */
export type ConsumerObserver = (consumer: types.Consumer, ssrc: number, startedAt: number) => void;

export class ReceiverFleet {
  readonly #transports: types.PlainTransport[] = [];
  #consumers = 0;
  #nextIndex = 0;

  /** Receivers go round-robin over the targets (one per worker), so each worker gets an equal share. */
  constructor(
    private readonly targets: readonly ReceiverTarget[],
    private readonly sink: RtpSink,
    private readonly onConsumer?: ConsumerObserver,
  ) {
    if (targets.length === 0) throw new Error('no router to receive from');
  }

  get receivers(): number {
    return this.#transports.length;
  }

  get consumers(): number {
    return this.#consumers;
  }

  /**
   * Adds receivers until there are `count`. Several are set up at once, since each is a few round trips
   * to a worker; stops early (leaving fewer) when `signal` aborts.
   */
  async growTo(count: number, concurrency: number, signal: AbortSignal, onProgress: (done: number) => void): Promise<void> {
    const lane = async (): Promise<void> => {
      while (!signal.aborted && this.#nextIndex < count) {
        await this.add();
        onProgress(this.#transports.length);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
  }

  /** Adds one receiver, whatever else is being added at the same time (a paced join storm). */
  add(): Promise<void> {
    return this.#add(this.#nextIndex++);
  }

  close(): void {
    for (const transport of this.#transports) transport.close();
  }

  async #add(index: number): Promise<void> {
    const target = this.targets[index % this.targets.length]!;
    const transport = await target.router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
    this.#transports.push(transport);
    await transport.connect({ ip: '127.0.0.1', port: this.sink.portFor(index) });
    for (const producerId of target.producerIds) {
      // The router's own capabilities: every codec and header extension it offers, as a browser
      // supporting all of them would declare. Paused first, then resumed, as the server does for peers.
      const startedAt = performance.now();
      const consumer = await transport.consume({ producerId, rtpCapabilities: target.router.rtpCapabilities, paused: true });
      this.#consumers++;
      const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
      if (ssrc === undefined) throw new Error(`consumer ${consumer.id} has no SSRC`);
      this.sink.watch(ssrc, consumer.kind);
      this.onConsumer?.(consumer, ssrc, startedAt);
      await consumer.resume();
    }
  }
}
