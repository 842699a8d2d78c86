import { Device, type types } from 'mediasoup-client';
import type {
  ConsumerInfo,
  MediaSource,
  PeerInfo,
  ProducerInfo,
  RoomCloseReason,
  RtpCapabilitiesPayload,
  RtpParametersPayload,
  TransportInfo,
} from '../../../shared/index.ts';
import { CAMERA_CODEC_OPTIONS, CAMERA_ENCODINGS, MIC_CODEC_OPTIONS } from './simulcast.ts';
import { type SignalingSocket, connectSignaling, request } from './signaling.ts';

/** What the session tells the UI. Plain data only: tracks are fetched with `session.track(key)`. */
export interface SessionListener {
  onPeerJoined(peer: PeerInfo): void;
  onPeerLeft(peerId: string): void;
  onTrack(peerId: string, source: MediaSource, trackKey: string): void;
  onTrackEnded(peerId: string, source: MediaSource): void;
  onProducer(producer: ProducerInfo): void;
  onProducerClosed(peerId: string, producerId: string): void;
  onConnectionChange(state: 'connected' | 'disconnected'): void;
  onRoomClosed(reason: RoomCloseReason): void;
}

export interface JoinResult {
  peerId: string;
  peers: PeerInfo[];
}

export interface SessionStats {
  inbound: Array<{ peerId: string; source: MediaSource; kind: string; bytesReceived: number; framesDecoded: number; frameWidth: number; frameHeight: number; packetsLost: number }>;
  outbound: Array<{ source: MediaSource; rid?: string; bytesSent: number; frameWidth: number; frameHeight: number }>;
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * One person's connection to a room: signaling socket, mediasoup Device, one send and one receive
 * transport, and the producers/consumers on them. Deliberately not reactive: the UI receives plain
 * data through the listener.
 */
export class MediaSession {
  readonly socket: SignalingSocket;
  readonly #device = new Device();
  #sendTransport: types.Transport | undefined;
  #recvTransport: types.Transport | undefined;
  readonly #producers = new Map<MediaSource, types.Producer>();
  readonly #consumers = new Map<string, { consumer: types.Consumer; info: ConsumerInfo }>();
  readonly #tracks = new Map<string, MediaStreamTrack>();
  #closed = false;

  constructor(private readonly listener: SessionListener) {
    this.socket = connectSignaling();
    this.socket.on('connect', () => listener.onConnectionChange('connected'));
    this.socket.on('disconnect', () => listener.onConnectionChange('disconnected'));
    this.socket.on('peerJoined', ({ peer }) => listener.onPeerJoined(peer));
    this.socket.on('peerLeft', ({ peerId }) => listener.onPeerLeft(peerId));
    this.socket.on('producerAdded', ({ producer }) => listener.onProducer(producer));
    this.socket.on('producerClosed', ({ peerId, producerId }) => listener.onProducerClosed(peerId, producerId));
    this.socket.on('consumerAdded', ({ consumer }) => {
      this.#addConsumer(consumer).catch((error: unknown) => console.error('cannot receive', consumer.source, error));
    });
    this.socket.on('consumerClosed', ({ consumerId }) => this.#removeConsumer(consumerId));
    this.socket.on('roomClosed', ({ reason }) => listener.onRoomClosed(reason));
  }

  track(key: string): MediaStreamTrack | undefined {
    return this.#tracks.get(key);
  }

  async join(roomId: string, displayName: string): Promise<JoinResult> {
    await this.#connected();
    const joined = await request(this.socket, 'join', { roomId, displayName });
    await this.#device.load({ routerRtpCapabilities: joined.routerRtpCapabilities as types.RtpCapabilities });
    this.#recvTransport = this.#setUpTransport(await request(this.socket, 'createTransport', { direction: 'recv' }));
    // mediasoup-client types codec parameters as `unknown`; the server validates them.
    await request(this.socket, 'ready', { rtpCapabilities: this.#device.rtpCapabilities as RtpCapabilitiesPayload });
    return { peerId: joined.peerId, peers: joined.peers };
  }

  /** Publishes a local track; the session owns it from here and stops it on close. */
  async publish(source: MediaSource, track: MediaStreamTrack): Promise<void> {
    if (!this.#sendTransport) {
      this.#sendTransport = this.#setUpTransport(await request(this.socket, 'createTransport', { direction: 'send' }));
    }
    const isCamera = source === 'camera';
    const producer = await this.#sendTransport.produce({
      track,
      ...(isCamera ? { encodings: CAMERA_ENCODINGS, codecOptions: CAMERA_CODEC_OPTIONS } : {}),
      ...(source === 'microphone' ? { codecOptions: MIC_CODEC_OPTIONS } : {}),
      appData: { source },
      stopTracks: true,
    });
    this.#producers.set(source, producer);
    this.#tracks.set(`local:${source}`, track);
  }

  async stats(): Promise<SessionStats> {
    const result: SessionStats = { inbound: [], outbound: [] };
    for (const { consumer, info } of this.#consumers.values()) {
      (await consumer.getStats()).forEach((report: Record<string, number & string>) => {
        if (report.type !== 'inbound-rtp') return;
        result.inbound.push({
          peerId: info.peerId,
          source: info.source,
          kind: info.kind,
          bytesReceived: report.bytesReceived ?? 0,
          framesDecoded: report.framesDecoded ?? 0,
          frameWidth: report.frameWidth ?? 0,
          frameHeight: report.frameHeight ?? 0,
          packetsLost: report.packetsLost ?? 0,
        });
      });
    }
    for (const [source, producer] of this.#producers) {
      (await producer.getStats()).forEach((report: Record<string, number & string>) => {
        if (report.type !== 'outbound-rtp') return;
        result.outbound.push({
          source,
          rid: report.rid,
          bytesSent: report.bytesSent ?? 0,
          frameWidth: report.frameWidth ?? 0,
          frameHeight: report.frameHeight ?? 0,
        });
      });
    }
    return result;
  }

  async leave(): Promise<void> {
    if (this.#closed) return;
    if (this.socket.connected) {
      // Best effort: the server also cleans up when the socket closes.
      await request(this.socket, 'leave', {}).catch(() => undefined);
    }
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    for (const producer of this.#producers.values()) producer.track?.stop();
    this.#producers.clear();
    this.#consumers.clear();
    this.#tracks.clear();
    this.socket.disconnect();
  }

  /** Resolves once connected; rejects at the first failed attempt so the person is told at once. */
  #connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const unreachable = () => {
        cleanup();
        reject(new Error('The Roundtable server cannot be reached. Check your connection and try again.'));
      };
      const timer = setTimeout(unreachable, CONNECT_TIMEOUT_MS);
      const onConnect = () => {
        cleanup();
        resolve();
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.socket.off('connect', onConnect);
        this.socket.off('connect_error', unreachable);
      };
      this.socket.on('connect', onConnect);
      this.socket.on('connect_error', unreachable);
    });
  }

  #setUpTransport(info: TransportInfo): types.Transport {
    const options = {
      id: info.id,
      iceParameters: info.iceParameters,
      iceCandidates: info.iceCandidates as types.IceCandidate[],
      dtlsParameters: info.dtlsParameters as types.DtlsParameters,
    };
    const transport =
      info.direction === 'send' ? this.#device.createSendTransport(options) : this.#device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      request(this.socket, 'connectTransport', { transportId: transport.id, dtlsParameters })
        .then(() => callback())
        .catch(errback);
    });
    if (info.direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        const source = appData.source as MediaSource;
        request(this.socket, 'produce', {
          transportId: transport.id,
          kind,
          source,
          rtpParameters: rtpParameters as RtpParametersPayload,
        })
          .then(({ producerId }) => callback({ id: producerId }))
          .catch(errback);
      });
    }
    return transport;
  }

  async #addConsumer(info: ConsumerInfo): Promise<void> {
    if (!this.#recvTransport || this.#closed) return;
    const consumer = await this.#recvTransport.consume({
      id: info.id,
      producerId: info.producerId,
      kind: info.kind,
      rtpParameters: info.rtpParameters as types.RtpParameters,
    });
    this.#consumers.set(info.id, { consumer, info });
    this.#tracks.set(info.id, consumer.track);
    this.listener.onTrack(info.peerId, info.source, info.id);
    // The server created it paused so the first keyframe arrives after we are listening.
    await request(this.socket, 'resumeConsumer', { consumerId: info.id });
  }

  #removeConsumer(consumerId: string): void {
    const entry = this.#consumers.get(consumerId);
    if (!entry) return;
    entry.consumer.close();
    this.#consumers.delete(consumerId);
    this.#tracks.delete(consumerId);
    this.listener.onTrackEnded(entry.info.peerId, entry.info.source);
  }
}
