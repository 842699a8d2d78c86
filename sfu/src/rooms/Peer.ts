import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { types } from 'mediasoup';
import type { MediaSource, PeerInfo, ProducerInfo, Role, ServerToClientEvents } from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';
import type { PooledRouter } from '../media/WorkerPool.ts';
import { TypedEmitter } from '../typed-emitter.ts';

export type Direction = 'send' | 'recv';
export type TransportAppData = { peerId: string; direction: Direction };
export type ProducerAppData = { peerId: string; source: MediaSource };
export type ConsumerAppData = { peerId: string; producerPeerId: string; source: MediaSource };

export type PeerTransport = types.WebRtcTransport<TransportAppData>;
export type PeerProducer = types.Producer<ProducerAppData>;
export type PeerConsumer = types.Consumer<ConsumerAppData>;

/** How the room reaches this peer's client; the signaling connection supplies it. */
export type Notify = <E extends keyof ServerToClientEvents>(
  event: E,
  ...args: Parameters<ServerToClientEvents[E]>
) => void;

type PeerEvents = {
  close: [];
  producerClosed: [producer: PeerProducer];
};

/** The connection currently speaking for a peer, and what to do when another takes over. */
export interface Attachment {
  notify: Notify;
  onReplaced(): void;
}

export interface PeerIdentity {
  id: string;
  resumeToken: string;
}

/**
 * One participant. Owns its transports; a transport owns its producers/consumers in mediasoup, and the
 * maps here follow mediasoup's own close events, so closing the peer (or a transport) cascades.
 * The identity outlives a dropped connection: a new connection holding the resume token reattaches.
 */
export class Peer extends TypedEmitter<PeerEvents> {
  readonly id: string;
  readonly #resumeToken: string;
  readonly transports = new Map<string, PeerTransport>();
  readonly producers = new Map<string, PeerProducer>();
  readonly consumers = new Map<string, PeerConsumer>();
  /** Set by `ready`: the peer receives media from then on. */
  rtpCapabilities: types.RtpCapabilities | undefined;
  handRaisedAt: number | null = null;
  /** Webinar viewers: the host who invited them onto the stage, until they answer. */
  invitedBy: string | undefined;
  /** Running while the peer is disconnected; removes it when the grace period ends. */
  graceTimer: NodeJS.Timeout | undefined;
  #attachment: Attachment | undefined;
  #closed = false;

  constructor(
    readonly displayName: string,
    attachment: Attachment,
    /** The router (so the worker) this peer's transports live on; another one if that worker dies. */
    public router: PooledRouter,
    public role: Role,
    /** An identity taken back from the store (a host, or someone a host muted): same id and token. */
    identity?: PeerIdentity,
  ) {
    super();
    this.id = identity?.id ?? randomUUID();
    this.#resumeToken = identity?.resumeToken ?? randomBytes(24).toString('base64url');
    this.#attachment = attachment;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** On stage: publishes and is announced to everyone. Viewers only receive. */
  get onStage(): boolean {
    return this.role !== 'viewer';
  }

  /** Whether this peer is told about `other`: everyone hears of the stage; only the stage hears of viewers. */
  sees(other: Peer): boolean {
    return other !== this && (this.onStage || other.onStage);
  }

  get connected(): boolean {
    return this.#attachment !== undefined;
  }

  get resumeToken(): string {
    return this.#resumeToken;
  }

  hasResumeToken(token: string): boolean {
    const given = Buffer.from(token);
    const ours = Buffer.from(this.#resumeToken);
    return given.length === ours.length && timingSafeEqual(given, ours);
  }

  /** Sends to the peer's client; dropped while the peer is disconnected. */
  notify: Notify = (event, ...args) => this.#attachment?.notify(event, ...args);

  /** A (new) connection speaks for this peer; a previous live one is told it was replaced. */
  attach(attachment: Attachment): void {
    const previous = this.#attachment;
    this.#attachment = attachment;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    previous?.onReplaced();
  }

  detach(): void {
    this.#attachment = undefined;
  }

  /**
   * Its router's worker died, and mediasoup closed its transports, producers and consumers with it:
   * new transports go on `router`, and the peer receives again once its client sends `ready`.
   */
  moveTo(router: PooledRouter): void {
    this.router = router;
    this.rtpCapabilities = undefined;
  }

  info(): PeerInfo {
    return {
      id: this.id,
      displayName: this.displayName,
      role: this.role,
      producers: [...this.producers.values()].map(producerInfo),
      handRaisedAt: this.handRaisedAt,
    };
  }

  transportFor(direction: Direction): PeerTransport | undefined {
    for (const transport of this.transports.values()) if (transport.appData.direction === direction) return transport;
    return undefined;
  }

  ownTransport(transportId: string): PeerTransport {
    const transport = this.transports.get(transportId);
    // Same reply for "no such id" and "someone else's id": ids of other peers are not confirmed.
    if (!transport) throw new SignalingError('TRANSPORT_NOT_FOUND', `no transport ${transportId} on this peer`);
    return transport;
  }

  ownProducer(producerId: string): PeerProducer {
    const producer = this.producers.get(producerId);
    if (!producer) throw new SignalingError('PRODUCER_NOT_FOUND', `no producer ${producerId} on this peer`);
    return producer;
  }

  ownConsumer(consumerId: string): PeerConsumer {
    const consumer = this.consumers.get(consumerId);
    if (!consumer) throw new SignalingError('CONSUMER_NOT_FOUND', `no consumer ${consumerId} on this peer`);
    return consumer;
  }

  producerFor(source: MediaSource): PeerProducer | undefined {
    for (const producer of this.producers.values()) if (producer.appData.source === source) return producer;
    return undefined;
  }

  consumerOf(producerId: string): PeerConsumer | undefined {
    for (const consumer of this.consumers.values()) if (consumer.producerId === producerId) return consumer;
    return undefined;
  }

  addTransport(transport: PeerTransport): void {
    this.transports.set(transport.id, transport);
    transport.observer.once('close', () => this.transports.delete(transport.id));
  }

  addProducer(producer: PeerProducer): void {
    this.producers.set(producer.id, producer);
    producer.observer.once('close', () => {
      this.producers.delete(producer.id);
      this.emit('producerClosed', producer);
    });
  }

  addConsumer(consumer: PeerConsumer): void {
    this.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => this.consumers.delete(consumer.id));
    // The producer went away (its owner left or stopped it): tell this client to drop the track.
    consumer.once('producerclose', () =>
      this.notify('consumerClosed', { consumerId: consumer.id, producerId: consumer.producerId }),
    );
  }

  /** Closes every transport (and with them every producer and consumer). Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.#attachment = undefined;
    for (const transport of [...this.transports.values()]) transport.close();
    this.emit('close');
  }
}

export function producerInfo(producer: PeerProducer): ProducerInfo {
  return {
    id: producer.id,
    peerId: producer.appData.peerId,
    kind: producer.kind,
    source: producer.appData.source,
    paused: producer.paused,
  };
}
