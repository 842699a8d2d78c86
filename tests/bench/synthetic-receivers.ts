/**
 * Synthetic receivers: each is a PlainTransport sending to the RTP sink on 127.0.0.1, with one consumer
 * per producer. SRTP-encrypted as for a browser (unless told otherwise), but no ICE, no DTLS handshake
 * and no congestion feedback: what is left is mediasoup's forwarding and encryption work, which is what
 * the benchmark measures.
 */
import type { types } from 'mediasoup';
import { type RtpSink, sinkClock } from './rtp-sink.ts';
import { capabilitiesWithoutBwe } from './layout-receivers.ts';
import { type SrtpKey, type SrtpSuite, isSrtpSuite, randomSrtpKey } from './srtp.ts';

export interface ReceiverTarget {
  router: types.Router;
  producerIds: readonly string[];
}

/**
 * Told of each consumer once it exists (paused) and its SSRC is watched, before it is resumed, so
 * nothing it forwards can be missed. `startedAt` is the sinkClock() time just before
 * transport.consume() was called, comparable with the sink's arrival times.
 */
export type ConsumerObserver = (consumer: types.Consumer, ssrc: number, startedAt: number) => void;

export class ReceiverFleet {
  readonly #transports: types.PlainTransport[] = [];
  #consumers = 0;
  #nextIndex = 0;

  /**
   * Receivers go round-robin over the targets (one per worker), so each worker gets an equal share.
   * With `srtp`, each receiver's transport encrypts with that suite; without, it sends plain RTP.
   * With `bwe`, receivers declare transport-cc and REMB as browsers do; see `bweArtifact` below.
   */
  constructor(
    private readonly targets: readonly ReceiverTarget[],
    private readonly sink: RtpSink,
    private readonly srtp: SrtpSuite | undefined,
    private readonly onConsumer?: ConsumerObserver,
    private readonly bwe = false,
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
    const transport = await createReceiverTransport(target.router, this.sink.portFor(index), this.srtp);
    this.#transports.push(transport);
    for (const producerId of target.producerIds) {
      // The router's own capabilities: every codec and header extension it offers, as a browser
      // supporting all of them would declare, but for bandwidth estimation unless asked for: the sink
      // sends no transport-cc feedback, and without it mediasoup keeps every packet sent in its
      // estimator's history for 60 s (a browser's feedback clears it within a round trip), which
      // cost a fifth of the worker's CPU at 300 receivers (perf). Paused first, then resumed, as the
      // server does for peers.
      const rtpCapabilities = this.bwe ? target.router.rtpCapabilities : capabilitiesWithoutBwe(target.router);
      const startedAt = sinkClock();
      const consumer = await transport.consume({ producerId, rtpCapabilities, paused: true });
      this.#consumers++;
      const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
      if (ssrc === undefined) throw new Error(`consumer ${consumer.id} has no SSRC`);
      this.sink.watch(ssrc, consumer.kind, sendingKey(transport));
      this.onConsumer?.(consumer, ssrc, startedAt);
      await this.sink.synced();
      await consumer.resume();
    }
  }
}

/**
 * A receiver's transport, connected to a sink socket. With SRTP it is set up as a browser's would be
 * after DTLS: mediasoup encrypts with its own key (transport.srtpParameters) and is given a random one
 * for what the receiver would send back (nothing, here).
 */
export async function createReceiverTransport(
  router: types.Router,
  port: number,
  srtp: SrtpSuite | undefined,
): Promise<types.PlainTransport> {
  const transport = await router.createPlainTransport({
    listenIp: { ip: '127.0.0.1' },
    rtcpMux: true,
    comedia: false,
    ...(srtp ? { enableSrtp: true, srtpCryptoSuite: srtp } : {}),
  });
  try {
    await transport.connect({ ip: '127.0.0.1', port, ...(srtp ? { srtpParameters: randomSrtpKey(srtp) } : {}) });
  } catch (error) {
    transport.close();
    throw error;
  }
  return transport;
}

/** The key mediasoup encrypts this transport's packets with; undefined for plain RTP. */
export function sendingKey(transport: types.PlainTransport): SrtpKey | undefined {
  const parameters = transport.srtpParameters;
  if (!parameters) return undefined;
  if (!isSrtpSuite(parameters.cryptoSuite)) throw new Error(`the sink cannot decrypt ${parameters.cryptoSuite}`);
  return { cryptoSuite: parameters.cryptoSuite, keyBase64: parameters.keyBase64 };
}
