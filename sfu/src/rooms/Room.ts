import type { types } from 'mediasoup';
import {
  type ConsumerInfo,
  type MediaKind,
  type MediaSource,
  type RoomCloseReason,
  type RtpParametersPayload,
  type ServerToClientEvents,
  type TransportInfo,
  kindOfSource,
} from '../../../shared/index.ts';
import type { Config } from '../../../config/index.ts';
import { SignalingError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { TypedEmitter } from '../typed-emitter.ts';
import {
  type ConsumerAppData,
  type Direction,
  type Notify,
  Peer,
  type PeerProducer,
  type PeerTransport,
  type ProducerAppData,
  type TransportAppData,
  producerInfo,
} from './Peer.ts';

type RoomEvents = { close: [] };

/**
 * A meeting: one mediasoup router and the peers in it. Routes media between peers: every producer is
 * consumed by every other ready peer; consumers start paused until their client resumes them.
 */
export class Room extends TypedEmitter<RoomEvents> {
  readonly peers = new Map<string, Peer>();
  readonly #connectedTransports = new WeakSet<PeerTransport>();
  #closed = false;

  constructor(
    readonly id: string,
    readonly router: types.Router,
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    super();
    router.observer.once('close', () => this.close('worker-died'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  addPeer(displayName: string, notify: Notify): Peer {
    if (this.#closed) throw new Error(`room ${this.id} is closed`);
    if (this.peers.size >= this.config.rooms.maxPeersPerRoom) {
      throw new SignalingError('ROOM_FULL', `room is full (${this.config.rooms.maxPeersPerRoom} participants)`);
    }
    const peer = new Peer(displayName, notify);
    this.peers.set(peer.id, peer);
    peer.on('producerClosed', (producer) =>
      this.#broadcast(peer, 'producerClosed', { producerId: producer.id, peerId: peer.id }),
    );
    this.#broadcast(peer, 'peerJoined', { peer: peer.info() });
    this.logger.info({ peerId: peer.id, peers: this.peers.size }, 'peer joined');
    return peer;
  }

  /** Removes the peer, closing its media; the room closes itself when the last peer is gone. */
  removePeer(peer: Peer): void {
    if (!this.peers.delete(peer.id)) return;
    peer.close();
    this.#broadcast(peer, 'peerLeft', { peerId: peer.id });
    this.logger.info({ peerId: peer.id, peers: this.peers.size }, 'peer left');
    if (this.peers.size === 0) this.close();
  }

  /** For a join that created the room and then could not add its peer. */
  closeIfEmpty(): void {
    if (this.peers.size === 0) this.close();
  }

  otherPeers(peer: Peer) {
    return [...this.peers.values()].filter((other) => other !== peer).map((other) => other.info());
  }

  async createTransport(peer: Peer, direction: Direction): Promise<TransportInfo> {
    if (peer.transportFor(direction)) {
      throw new SignalingError('TRANSPORT_LIMIT', `this peer already has a ${direction} transport`);
    }
    const { rtc, media } = this.config;
    const transport = await this.router.createWebRtcTransport<TransportAppData>({
      listenIps: [{ ip: rtc.listenIp, ...(rtc.announcedIp ? { announcedIp: rtc.announcedIp } : {}) }],
      enableUdp: true,
      enableTcp: rtc.enableTcp,
      preferUdp: rtc.preferUdp,
      initialAvailableOutgoingBitrate: media.initialOutgoingBitrate,
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
    return {
      id: transport.id,
      direction,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates as TransportInfo['iceCandidates'],
      dtlsParameters: transport.dtlsParameters as TransportInfo['dtlsParameters'],
    };
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

  async produce(
    peer: Peer,
    request: { transportId: string; kind: MediaKind; source: MediaSource; rtpParameters: RtpParametersPayload },
  ): Promise<PeerProducer> {
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
    this.#broadcast(peer, 'producerAdded', { producer: producerInfo(producer) });
    for (const other of this.peers.values()) {
      if (other !== peer && other.rtpCapabilities) this.#consumeAndNotify(other, producer);
    }
    return producer;
  }

  /** Marks the peer able to receive and subscribes it to everything already published. */
  async setReady(peer: Peer, rtpCapabilities: types.RtpCapabilities): Promise<number> {
    if (!peer.transportFor('recv')) throw new SignalingError('NOT_READY', 'create a recv transport first');
    const ours = new Set(this.router.rtpCapabilities.codecs?.map((codec) => codec.mimeType.toLowerCase()));
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
    return this.#createConsumer(peer, producer);
  }

  async resumeConsumer(peer: Peer, consumerId: string): Promise<void> {
    await peer.ownConsumer(consumerId).resume();
  }

  closeProducer(peer: Peer, producerId: string): void {
    peer.ownProducer(producerId).close();
  }

  /** Closes every peer and the router. Safe to call twice. */
  close(reason?: RoomCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const peer of this.peers.values()) {
      if (reason) peer.notify('roomClosed', { reason });
      peer.close();
    }
    this.peers.clear();
    this.router.close();
    this.logger.info({ reason: reason ?? 'empty' }, 'room closed');
    this.emit('close');
  }

  #producersOfOthers(peer: Peer): PeerProducer[] {
    return [...this.peers.values()].filter((other) => other !== peer).flatMap((other) => [...other.producers.values()]);
  }

  async #createConsumer(peer: Peer, producer: PeerProducer): Promise<ConsumerInfo> {
    const transport = peer.transportFor('recv');
    if (!transport || !peer.rtpCapabilities) throw new SignalingError('NOT_READY', 'no recv transport');
    if (!this.router.canConsume({ producerId: producer.id, rtpCapabilities: peer.rtpCapabilities })) {
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
    return {
      id: consumer.id,
      producerId: producer.id,
      peerId: producer.appData.peerId,
      kind: consumer.kind,
      source: producer.appData.source,
      rtpParameters: consumer.rtpParameters as RtpParametersPayload,
      producerPaused: consumer.producerPaused,
    };
  }

  async #consumeAndNotify(peer: Peer, producer: PeerProducer): Promise<void> {
    try {
      const consumer = await this.#createConsumer(peer, producer);
      peer.notify('consumerAdded', { consumer });
    } catch (error) {
      this.logger.warn({ peerId: peer.id, producerId: producer.id, err: error }, 'could not consume producer');
    }
  }

  #broadcast<E extends keyof ServerToClientEvents>(
    from: Peer,
    event: E,
    ...args: Parameters<ServerToClientEvents[E]>
  ): void {
    for (const peer of this.peers.values()) if (peer !== from) peer.notify(event, ...args);
  }
}
