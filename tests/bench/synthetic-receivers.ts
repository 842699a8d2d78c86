/**
 * Synthetic receivers: each is a PlainTransport sending to the RTP sink on 127.0.0.1, with one consumer
 * per producer. No browser, no DTLS/SRTP, no congestion feedback: what is left is mediasoup's
 * forwarding work, which is what the benchmark measures.
 */
import type { types } from 'mediasoup';
import type { RtpSink } from './rtp-sink.ts';

export interface ReceiverTarget {
  router: types.Router;
  producerIds: readonly string[];
}

export class ReceiverFleet {
  readonly #transports: types.PlainTransport[] = [];
  #consumers = 0;

  /** Receivers go round-robin over the targets (one per worker), so each worker gets an equal share. */
  constructor(
    private readonly targets: readonly ReceiverTarget[],
    private readonly sink: RtpSink,
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
    let next = this.#transports.length;
    const lane = async (): Promise<void> => {
      while (!signal.aborted) {
        const index = next++;
        if (index >= count) return;
        await this.#add(index);
        onProgress(this.#transports.length);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
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
      const consumer = await transport.consume({ producerId, rtpCapabilities: target.router.rtpCapabilities, paused: true });
      this.#consumers++;
      const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
      if (ssrc === undefined) throw new Error(`consumer ${consumer.id} has no SSRC`);
      this.sink.watch(ssrc);
      await consumer.resume();
    }
  }
}
