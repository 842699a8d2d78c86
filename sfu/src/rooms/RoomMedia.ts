import type { types } from 'mediasoup';
import {
  type ConsumerInfo,
  type IceParameters,
  type MediaKind,
  type MediaSource,
  type RequestPayload,
  type RtpParametersPayload,
  type TransportInfo,
  kindOfSource,
} from '../../../shared/index.ts';
import type { Config } from '../../../config/index.ts';
import { SignalingError } from '../errors.ts';
import { ROOM_TRANSPORT_SCTP } from '../files/sctp-options.ts';
import type { Logger } from '../logger.ts';
import type { Network } from '../network/Network.ts';
import { transportInfo } from '../network/transport-info.ts';
import type { Dynacast } from './Dynacast.ts';
import type { RoomRouters } from './RoomRouters.ts';
import type {
  ConsumerAppData,
  Direction,
  Peer,
  PeerConsumer,
  PeerProducer,
  PeerTransport,
  ProducerAppData,
  TransportAppData,
} from './Peer.ts';

export type ConsumerUpdate = RequestPayload<'updateConsumers'>['updates'][number];

export interface ProduceRequest {
  transportId: string;
  kind: MediaKind;
  source: MediaSource;
  rtpParameters: RtpParametersPayload;
  paused?: boolean;
}

/**
 * Media routing among one room's peers, across the room's routers: transports, producers and
 * consumers. Every producer is consumed by every other ready peer; consumers start paused until their
 * client resumes them (so the first keyframe is never sent before the client listens), and each
 * client then says which videos it shows and at what size.
 */
export class RoomMedia {
  readonly #connectedTransports = new WeakSet<PeerTransport>();

  constructor(
    private readonly routers: RoomRouters,
    private readonly peers: ReadonlyMap<string, Peer>,
    private readonly dynacast: Dynacast,
    private readonly network: Network,
    private readonly config: Config,
    private readonly logger: Logger,
  ) {}

  async createTransport(peer: Peer, direction: Direction): Promise<TransportInfo> {
    if (direction === 'send' && !peer.onStage) {
      throw new SignalingError('FORBIDDEN', 'viewers cannot send media; the host can invite you to the stage');
    }
    if (peer.transportFor(direction)) {
      throw new SignalingError('TRANSPORT_LIMIT', `this peer already has a ${direction} transport`);
    }
    const { media } = this.config;
    const transport = await peer.router.createWebRtcTransport<TransportAppData>({
      ...this.network.transportOptions(peer.router),
      initialAvailableOutgoingBitrate: media.initialOutgoingBitrate,
      ...ROOM_TRANSPORT_SCTP,
      appData: { peerId: peer.id, direction },
    });
    // The peer may have left while the worker was creating the transport.
    if (peer.closed) {
      transport.close();
      throw new SignalingError('NOT_JOINED', 'left the room');
    }
    peer.addTransport(transport);
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') transport.close();
    });
    if (direction === 'send') await transport.setMaxIncomingBitrate(media.maxIncomingBitrate);
    else await transport.setMaxOutgoingBitrate(media.maxOutgoingBitrate);
    return transportInfo(transport, direction);
  }

  async connectTransport(peer: Peer, transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const transport = peer.ownTransport(transportId);
    if (this.#connectedTransports.has(transport)) {
      throw new SignalingError('TRANSPORT_ALREADY_CONNECTED', 'transport is already connected');
    }
    try {
      await transport.connect({ dtlsParameters });
    } catch (error) {
      throw new SignalingError('INVALID_DTLS_PARAMETERS', (error as Error).message);
    }
    this.#connectedTransports.add(transport);
  }

  async restartIce(peer: Peer, transportId: string): Promise<IceParameters> {
    return peer.ownTransport(transportId).restartIce();
  }

  /** `paused`: the producer starts paused (a microphone a host muted). */
  async produce(peer: Peer, request: ProduceRequest, paused = false): Promise<PeerProducer> {
    if (!peer.onStage) throw new SignalingError('FORBIDDEN', 'viewers cannot send media');
    const transport = peer.ownTransport(request.transportId);
    if (transport.appData.direction !== 'send') {
      throw new SignalingError('WRONG_TRANSPORT_DIRECTION', 'produce needs a send transport');
    }
    if (kindOfSource(request.source) !== request.kind) {
      throw new SignalingError('INVALID_PAYLOAD', `source ${request.source} cannot carry ${request.kind}`);
    }
    if (peer.producerFor(request.source)) {
      throw new SignalingError('PRODUCER_LIMIT', `already producing ${request.source}`);
    }
    let producer: PeerProducer;
    try {
      producer = await transport.produce<ProducerAppData>({
        kind: request.kind,
        rtpParameters: request.rtpParameters as types.RtpParameters,
        paused,
        ...(request.kind === 'video' ? { keyFrameRequestDelay: this.config.media.keyFrameRequestDelayMs } : {}),
        appData: { peerId: peer.id, source: request.source },
      });
    } catch (error) {
      throw new SignalingError('INVALID_RTP_PARAMETERS', (error as Error).message);
    }
    if (peer.closed) {
      producer.close();
      throw new SignalingError('NOT_JOINED', 'left the room');
    }
    peer.addProducer(producer);
    return producer;
  }

  /** Subscribes every other ready peer to a new producer. */
  fanOut(producer: PeerProducer): void {
    this.dynacast.touch(producer.id); // nobody may be watching yet
    for (const other of this.peers.values()) {
      if (other.id !== producer.appData.peerId && other.rtpCapabilities) void this.#consumeAndNotify(other, producer);
    }
  }

  async setProducerPaused(peer: Peer, producerId: string, paused: boolean): Promise<PeerProducer> {
    const producer = peer.ownProducer(producerId);
    if (paused) await producer.pause();
    else await producer.resume();
    return producer;
  }

  /** Marks the peer able to receive and subscribes it to everything already published. */
  async setReady(peer: Peer, rtpCapabilities: types.RtpCapabilities): Promise<number> {
    if (!peer.transportFor('recv')) throw new SignalingError('NOT_READY', 'create a recv transport first');
    const ours = new Set(this.routers.main.rtpCapabilities.codecs?.map((codec) => codec.mimeType.toLowerCase()));
    const common = rtpCapabilities.codecs?.filter(
      (codec) => ours.has(codec.mimeType.toLowerCase()) && !codec.mimeType.toLowerCase().endsWith('/rtx'),
    );
    if (!common?.length) {
      throw new SignalingError('INCOMPATIBLE_RTP_CAPABILITIES', 'no codec in common with this room');
    }
    peer.rtpCapabilities = rtpCapabilities;
    const pending = this.#producersOfOthers(peer).filter((producer) => !peer.consumerOf(producer.id));
    await Promise.all(pending.map((producer) => this.#consumeAndNotify(peer, producer)));
    return pending.length;
  }

  async consume(peer: Peer, producerId: string): Promise<ConsumerInfo> {
    if (!peer.rtpCapabilities) throw new SignalingError('NOT_READY', 'send ready with RTP capabilities first');
    if (peer.producers.has(producerId)) {
      throw new SignalingError('CANNOT_CONSUME_OWN_PRODUCER', 'a peer cannot consume its own producer');
    }
    const producer = this.#producersOfOthers(peer).find((candidate) => candidate.id === producerId);
    if (!producer) throw new SignalingError('PRODUCER_NOT_FOUND', `no producer ${producerId} in this room`);
    if (peer.consumerOf(producerId)) throw new SignalingError('ALREADY_CONSUMING', 'already consuming this producer');
    return consumerInfo(await this.#createConsumer(peer, producer));
  }

  async resumeConsumer(peer: Peer, consumerId: string): Promise<void> {
    const consumer = peer.ownConsumer(consumerId);
    try {
      await consumer.resume();
    } catch (error) {
      // Its producer closed while the request was on its way: the client hears consumerClosed.
      if (consumer.closed) throw new SignalingError('CONSUMER_NOT_FOUND', `consumer ${consumerId} has just closed`);
      throw error;
    }
    this.dynacast.touch(consumer.producerId);
  }

  /**
   * Applies what the client shows of each video: hidden ones are paused (no bandwidth), shown ones get
   * the layer their size needs. All updates are checked before any is applied. Audio is never paused
   * this way: a person off-screen is still heard.
   */
  async updateConsumers(peer: Peer, updates: ConsumerUpdate[]): Promise<void> {
    const targets = updates.map((update) => ({ update, consumer: peer.ownConsumer(update.consumerId) }));
    const audio = targets.find(({ update, consumer }) => consumer.kind === 'audio' && update.paused);
    if (audio) throw new SignalingError('INVALID_PAYLOAD', `audio consumer ${audio.consumer.id} cannot be paused by view updates`);
    for (const { update, consumer } of targets) {
      if (update.paused !== consumer.paused) await (update.paused ? consumer.pause() : consumer.resume());
      if (update.spatialLayer !== undefined && (consumer.type === 'simulcast' || consumer.type === 'svc')) {
        await consumer.setPreferredLayers({
          spatialLayer: update.spatialLayer,
          ...(update.temporalLayer !== undefined ? { temporalLayer: update.temporalLayer } : {}),
        });
      }
      if (update.priority !== undefined) await consumer.setPriority(update.priority);
      this.dynacast.touch(consumer.producerId);
    }
  }

  #producersOfOthers(peer: Peer): PeerProducer[] {
    return [...this.peers.values()].filter((other) => other !== peer).flatMap((other) => [...other.producers.values()]);
  }

  async #createConsumer(peer: Peer, producer: PeerProducer): Promise<PeerConsumer> {
    const transport = peer.transportFor('recv');
    if (!transport || !peer.rtpCapabilities) throw new SignalingError('NOT_READY', 'no recv transport');
    const owner = this.peers.get(producer.appData.peerId);
    if (!owner) throw new SignalingError('PRODUCER_NOT_FOUND', 'the producer has left');
    await this.routers.ensureProducerOn(producer.id, owner.router, peer.router);
    if (!peer.router.canConsume({ producerId: producer.id, rtpCapabilities: peer.rtpCapabilities })) {
      throw new SignalingError('CANNOT_CONSUME', 'your RTP capabilities cannot receive this producer');
    }
    const consumer = await transport.consume<ConsumerAppData>({
      producerId: producer.id,
      rtpCapabilities: peer.rtpCapabilities,
      paused: true, // resumed when the client has its consumer, so the first keyframe is not lost
      appData: { peerId: peer.id, producerPeerId: producer.appData.peerId, source: producer.appData.source },
    });
    if (peer.closed) {
      consumer.close();
      throw new SignalingError('NOT_JOINED', 'left the room');
    }
    peer.addConsumer(consumer);
    this.dynacast.touch(producer.id);
    consumer.observer.once('close', () => this.dynacast.touch(producer.id));
    consumer.on('score', ({ score, producerScore }) =>
      peer.notify('consumerScore', { consumerId: consumer.id, score, producerScore }),
    );
    return consumer;
  }

  async #consumeAndNotify(peer: Peer, producer: PeerProducer): Promise<void> {
    try {
      const consumer = await this.#createConsumer(peer, producer);
      peer.notify('consumerAdded', { consumer: consumerInfo(consumer) });
    } catch (error) {
      this.logger.warn({ peerId: peer.id, producerId: producer.id, err: error }, 'could not consume producer');
    }
  }
}

export function consumerInfo(consumer: PeerConsumer): ConsumerInfo {
  return {
    id: consumer.id,
    producerId: consumer.producerId,
    peerId: consumer.appData.producerPeerId,
    kind: consumer.kind,
    source: consumer.appData.source,
    rtpParameters: consumer.rtpParameters as RtpParametersPayload,
    producerPaused: consumer.producerPaused,
  };
}
