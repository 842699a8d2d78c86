import { Device, type types } from 'mediasoup-client';
import {
  type ChatMessage,
  type ClientSettings,
  type ConsumerInfo,
  type JoinReply,
  LIMITS,
  type MediaSource,
  type PeerInfo,
  type ProducerInfo,
  type Role,
  type RoomCloseReason,
  type RtpCapabilitiesPayload,
} from '../../../shared/index.ts';
import { requestJoin } from './moderation.ts';
import { forgetCredentials, loadCredentials, saveCredentials } from './credentials.ts';
import { FileSharing } from './files/FileSharing.ts';
import { type LocalSourceState, Publisher } from './Publisher.ts';
import { type SessionStats, collectStats } from './session-stats.ts';
import { RequestError, type SignalingSocket, connectSignaling, request, retarget } from './signaling.ts';
import { IceServers } from './IceServers.ts';
import { createTransport, restartIce } from './transport.ts';
import { ViewTracker } from './ViewTracker.ts';

export type { SessionStats } from './session-stats.ts';

export type ConnectionState = 'connected' | 'reconnecting';

/** What the session tells the UI. Plain data only: tracks are fetched with `session.track(key)`. */
export interface SessionListener {
  /** The room as it is now: on the first join and again after every reconnection. */
  onRoomState(reply: JoinReply): void;
  onPeerJoined(peer: PeerInfo): void;
  onPeerLeft(peerId: string): void;
  onPeerUpdated(peerId: string, handRaisedAt: number | null): void;
  onProducer(producer: ProducerInfo): void;
  onProducerPaused(peerId: string, producerId: string, paused: boolean): void;
  onProducerClosed(peerId: string, producerId: string): void;
  onTrack(peerId: string, source: MediaSource, trackKey: string): void;
  onTrackEnded(peerId: string, source: MediaSource): void;
  onLocalSource(source: MediaSource, state: LocalSourceState | undefined): void;
  onConsumerScore(peerId: string, source: MediaSource, score: number, producerScore: number): void;
  onChat(message: ChatMessage): void;
  onActiveSpeaker(peerId: string | null): void;
  onSpeaking(peerIds: string[]): void;
  onConnectionChange(state: ConnectionState): void;
  onRoomClosed(reason: RoomCloseReason, byName?: string): void;
  onReplaced(): void;
  onAudienceCount(count: number): void;
  onStageInvite(byName: string): void;
  onStageInviteAnswered(peerId: string, accepted: boolean): void;
  onRoleChanged(peerId: string, role: Role): void;
}

const CONNECT_TIMEOUT_MS = 10_000;
/** Cluster mode: WRONG_NODE answers followed in a row before giving up (placement races settle in one). */
const MAX_REDIRECTS = 3;
/** What a person is told when the server refuses the connection itself (stable codes in `data.code`). */
const CONNECT_REFUSALS: Record<string, string> = {
  TOO_MANY_CONNECTIONS: 'Too many connections from your network to this server. Close other tabs or try again later.',
  ORIGIN_NOT_ALLOWED: 'This page is not allowed to connect to the Roundtable server (its origin is not the server\u2019s own).',
};

/**
 * One person's connection to a room: signaling socket, mediasoup Device, the receive transport and its
 * consumers, and a Publisher for the sending side. Survives a dropped connection: when the socket
 * comes back it rejoins with its resume token, keeps what the server kept (with an ICE restart) and
 * rebuilds what it lost. Deliberately not reactive: the UI receives plain data through the listener.
 */
export class MediaSession {
  readonly socket: SignalingSocket;
  #device = new Device();
  #recvTransport: types.Transport | undefined;
  readonly #consumers = new Map<string, { consumer: types.Consumer; info: ConsumerInfo }>();
  readonly #tracks = new Map<string, MediaStreamTrack>();
  readonly publisher: Publisher;
  /** Files shared in the room: one upload and one download data channel, opened on first use. */
  readonly files: FileSharing;
  readonly #ice: IceServers;
  /** Which received videos are on screen, and how big: drives pausing and layer choice. */
  readonly views: ViewTracker;
  #settings: ClientSettings | undefined;
  #roomId = '';
  #displayName = '';
  /** Link key and room token, sent again when rejoining after a dropped connection. */
  #key: string | undefined;
  #token: string | undefined;
  /** This session's place in the room, as the last join reply gave it. */
  #identity: { peerId: string; token: string } | undefined;
  #joined = false;
  #closed = false;
  /** A media reset is being handled; another one arriving meanwhile runs after it. */
  #resetting = false;
  #resetAgain = false;
  /** Cluster mode: the node this socket talks to, and the live nodes the last join reply listed. */
  #url = window.location.origin;
  #nodes: string[] = [];
  /** Following a redirect: the join is sent by the mover, not by the connect handler. */
  #moving = false;

  /** `forceRelay`: send media only through TURN (`?relay=1`), whatever the server's policy. */
  constructor(
    private readonly listener: SessionListener,
    options: { forceRelay?: boolean } = {},
  ) {
    this.socket = connectSignaling();
    this.#ice = new IceServers(
      options.forceRelay ?? false,
      () => request(this.socket, 'refreshIceServers', {}),
      () => [this.publisher.transport, this.#recvTransport].filter((t): t is types.Transport => t !== undefined),
    );
    this.publisher = new Publisher(() => this.socket, () => this.#device, () => this.#settings, this.#ice, this.#tracks, {
      onLocalSource: (source, state) => listener.onLocalSource(source, state),
    });
    this.files = new FileSharing(this.socket, this.publisher, () => this.#recvTransport);
    this.views = new ViewTracker(async (updates) => {
      for (let i = 0; i < updates.length; i += LIMITS.maxConsumerUpdates) {
        await request(this.socket, 'updateConsumers', { updates: updates.slice(i, i + LIMITS.maxConsumerUpdates) });
      }
    });
    const on = this.socket.on.bind(this.socket);
    on('peerJoined', ({ peer }) => listener.onPeerJoined(peer));
    on('peerLeft', ({ peerId }) => listener.onPeerLeft(peerId));
    on('peerUpdated', ({ peerId, handRaisedAt }) => listener.onPeerUpdated(peerId, handRaisedAt));
    on('producerAdded', ({ producer }) => listener.onProducer(producer));
    on('producerPaused', ({ peerId, producerId, paused }) => listener.onProducerPaused(peerId, producerId, paused));
    on('producerClosed', ({ peerId, producerId }) => listener.onProducerClosed(peerId, producerId));
    on('consumerAdded', ({ consumer }) => this.#receive(consumer));
    on('consumerClosed', ({ consumerId }) => this.#removeConsumer(consumerId));
    on('consumerScore', ({ consumerId, score, producerScore }) => {
      const entry = this.#consumers.get(consumerId);
      if (entry) listener.onConsumerScore(entry.info.peerId, entry.info.source, score, producerScore);
    });
    on('producerLayers', ({ producerId, maxSpatialLayer }) => {
      this.publisher.limitLayers(producerId, maxSpatialLayer).catch((error: unknown) => console.warn('dynacast failed', error));
    });
    on('chatMessage', (message) => listener.onChat(message));
    on('activeSpeaker', ({ peerId }) => listener.onActiveSpeaker(peerId));
    on('speaking', ({ peerIds }) => listener.onSpeaking(peerIds));
    on('roomClosed', ({ reason, byName }) => {
      // Cluster mode: another node took the room over. Join it there, as after a dropped connection.
      if (reason === 'moved' && this.#joined && !this.#closed) {
        listener.onConnectionChange('reconnecting');
        return void this.#rejoin();
      }
      listener.onRoomClosed(reason, byName);
    });
    on('audienceCount', ({ count }) => listener.onAudienceCount(count));
    on('stageInvite', ({ byName }) => listener.onStageInvite(byName));
    on('stageInviteAnswered', ({ peerId, accepted }) => listener.onStageInviteAnswered(peerId, accepted));
    on('roleChanged', ({ peerId, role }) => listener.onRoleChanged(peerId, role));
    on('mediaReset', () => void this.#resetMedia());
    on('sessionReplaced', () => {
      this.close();
      listener.onReplaced();
    });
    on('disconnect', (reason) => {
      if (this.#joined && !this.#closed && reason !== 'io client disconnect') listener.onConnectionChange('reconnecting');
    });
    on('connect', () => {
      if (this.#joined && !this.#closed && !this.#moving) void this.#rejoin();
    });
    // Cluster mode: the node is gone (killed, restarting). Each failed attempt tries the next node;
    // whichever takes the room over answers the rejoin, or sends it on to the owner.
    this.socket.io.on('reconnect_error', () => {
      const next = this.#nodes[(this.#nodes.indexOf(this.#url) + 1) % this.#nodes.length];
      if (next && next !== this.#url) this.#target(next);
    });
  }

  track(key: string): MediaStreamTrack | undefined {
    return this.#tracks.get(key);
  }

  get settings(): ClientSettings | undefined {
    return this.#settings;
  }

  async join(roomId: string, displayName: string, key?: string, token?: string): Promise<void> {
    this.#roomId = roomId;
    this.#displayName = displayName;
    this.#key = key;
    this.#token = token;
    await this.#connected();
    await this.#enterRoom();
    this.#joined = true;
    if (this.#resetAgain) void this.#resetMedia(); // the server's worker died while we were joining
  }

  async setHandRaised(raised: boolean): Promise<void> {
    await request(this.socket, 'setHandRaised', { raised });
  }

  async sendChat(text: string): Promise<ChatMessage> {
    return request(this.socket, 'sendChat', { text });
  }

  async inviteToStage(peerId: string): Promise<void> {
    await request(this.socket, 'inviteToStage', { peerId });
  }

  async answerStageInvite(accept: boolean): Promise<void> {
    await request(this.socket, 'answerStageInvite', { accept });
  }

  async moveToAudience(peerId: string): Promise<void> {
    await request(this.socket, 'moveToAudience', { peerId });
  }

  async stats(): Promise<SessionStats> {
    const transports = {
      ...(this.publisher.transport ? { send: this.publisher.transport } : {}),
      ...(this.#recvTransport ? { recv: this.#recvTransport } : {}),
    };
    return collectStats(this.#consumers.values(), this.publisher.producers, transports);
  }

  async leave(): Promise<void> {
    if (this.#closed) return;
    forgetCredentials(this.#roomId);
    if (this.socket.connected) {
      // Best effort: the server also removes us when the socket closes on purpose.
      await request(this.socket, 'leave', {}).catch((error: unknown) => console.warn('leave was not acknowledged', error));
    }
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ice.close();
    this.views.close();
    this.files.close();
    this.publisher.close();
    this.#recvTransport?.close();
    this.#consumers.clear();
    this.#tracks.clear();
    this.socket.disconnect();
  }

  /** Joins, taking back this browser's previous place in the room when the server still holds it. */
  async #enterRoom(credentials = loadCredentials(this.#roomId)): Promise<void> {
    const transportIds = [this.publisher.transport?.id, this.#recvTransport?.id].filter((id): id is string => Boolean(id));
    const reply = await this.#requestJoinFollowing({
      roomId: this.#roomId,
      displayName: this.#displayName,
      ...(credentials ? { resume: { ...credentials, transportIds } } : {}),
      ...(this.#key ? { key: this.#key } : {}),
      ...(this.#token ? { token: this.#token } : {}),
    });
    this.#nodes = reply.nodes ?? [];
    this.#identity = { peerId: reply.peerId, token: reply.resumeToken };
    saveCredentials(this.#roomId, this.#identity);
    this.#settings = reply.settings;
    await this.#ice.apply(reply.network); // fresh TURN credentials with every (re)join
    if (!reply.resumed) this.#forgetRemoteMedia();
    if (!this.#device.loaded) {
      await this.#device.load({ routerRtpCapabilities: reply.routerRtpCapabilities as types.RtpCapabilities });
    }
    this.listener.onRoomState(reply);

    if (this.#recvTransport && reply.transportIds.includes(this.#recvTransport.id)) {
      await restartIce(this.socket, this.#recvTransport);
      this.#reconcileConsumers(reply.consumers);
    } else {
      this.#forgetRemoteMedia();
      const info = await request(this.socket, 'createTransport', { direction: 'recv' });
      this.#recvTransport = createTransport(this.#device, this.socket, info, this.#ice.options);
      await request(this.socket, 'ready', { rtpCapabilities: this.#device.rtpCapabilities as RtpCapabilitiesPayload });
    }
    if (this.#joined) await this.publisher.recover(reply.resumed ? reply.transportIds : []);
    this.files.roomEntered(reply.files, reply.settings.files);
  }

  /**
   * Sends the join; in cluster mode, a node that does not serve the room answers WRONG_NODE with the
   * owner's URL and a pass, and the join goes there. The person sees nothing of it.
   */
  async #requestJoinFollowing(payload: Parameters<typeof requestJoin>[1]): Promise<JoinReply> {
    let redirect: string | undefined;
    for (let hops = 0; ; hops += 1) {
      try {
        return await requestJoin(this.socket, { ...payload, ...(redirect ? { redirect } : {}) });
      } catch (error) {
        if (!(error instanceof RequestError) || error.code !== 'WRONG_NODE' || !error.redirect || hops >= MAX_REDIRECTS) throw error;
        const { url, token } = error.redirect;
        await this.#moveTo(url);
        // Only the node the pass names accepts it; a failover may have landed us elsewhere.
        redirect = this.#url === url ? token : undefined;
      }
    }
  }

  /** Reconnects the socket to another node and waits until it is connected (there, or at a fallback). */
  async #moveTo(url: string): Promise<void> {
    this.#moving = true;
    try {
      this.#target(url);
      this.socket.disconnect(); // at once, no backoff: the next connect opens to the new target
      this.socket.connect();
      await this.#connected(false);
    } finally {
      this.#moving = false;
    }
  }

  #target(url: string): void {
    this.#url = url;
    retarget(this.socket, url);
  }

  async #rejoin(): Promise<void> {
    try {
      await this.#enterRoom();
      this.listener.onConnectionChange('connected');
    } catch (error) {
      // Removed while the connection was down: the server will never take this identity back.
      if (error instanceof RequestError && error.code === 'REMOVED') return this.listener.onRoomClosed('removed');
      console.warn('rejoining failed; trying again on the next connection', error);
      this.socket.io.engine.close(); // the manager reconnects after its backoff delay, not in a tight loop
    }
  }

  /**
   * The server's media worker died under this session: it is still in the room, but its transports,
   * producers and consumers are gone. Asking for our own place again on this connection runs the same
   * reconcile as after a reconnection: new transports, the same sources re-published in their paused
   * states, and everything available received again.
   */
  async #resetMedia(): Promise<void> {
    if (!this.#joined || this.#resetting) {
      this.#resetAgain = true;
      return;
    }
    this.#resetting = true;
    try {
      do {
        this.#resetAgain = false;
        if (this.#closed || !this.socket.connected) return; // a reconnection rebuilds everything anyway
        await this.#enterRoom(this.#identity);
      } while (this.#resetAgain);
    } catch (error) {
      console.warn('rebuilding media after the server lost it failed', error);
    } finally {
      this.#resetting = false;
    }
  }

  /** Local receive state is stale (new identity, or the server lost our transport). */
  #forgetRemoteMedia(): void {
    for (const id of [...this.#consumers.keys()]) this.#removeConsumer(id);
    this.#recvTransport?.close();
    this.#recvTransport = undefined;
  }

  /** After a resume: drop consumers the server no longer has, add the ones we missed. */
  #reconcileConsumers(serverConsumers: ConsumerInfo[]): void {
    const kept = new Set(serverConsumers.map((c) => c.id));
    for (const id of [...this.#consumers.keys()]) if (!kept.has(id)) this.#removeConsumer(id);
    for (const info of serverConsumers) if (!this.#consumers.has(info.id)) this.#receive(info);
  }

  #receive(info: ConsumerInfo): void {
    this.#addConsumer(info).catch((error: unknown) => console.error('cannot receive', info.source, error));
  }

  async #addConsumer(info: ConsumerInfo): Promise<void> {
    if (!this.#recvTransport || this.#closed || this.#consumers.has(info.id)) return;
    const consumer = await this.#recvTransport.consume({
      id: info.id,
      producerId: info.producerId,
      kind: info.kind,
      rtpParameters: info.rtpParameters as types.RtpParameters,
    });
    this.#consumers.set(info.id, { consumer, info });
    this.#tracks.set(info.id, consumer.track);
    this.listener.onTrack(info.peerId, info.source, info.id);
    // The server created it paused so the first keyframe arrives after we are listening. Audio plays
    // at once; a video resumes when a tile actually shows it.
    if (info.kind === 'audio') await request(this.socket, 'resumeConsumer', { consumerId: info.id });
    else this.views.addVideo(info.id);
  }

  #removeConsumer(consumerId: string): void {
    const entry = this.#consumers.get(consumerId);
    if (!entry) return;
    entry.consumer.close();
    this.views.removeVideo(consumerId);
    this.#consumers.delete(consumerId);
    this.#tracks.delete(consumerId);
    this.listener.onTrackEnded(entry.info.peerId, entry.info.source);
  }

  /**
   * Resolves once connected. By default rejects at the first failed attempt, so the person is told at
   * once; `failFast` false waits through the reconnection's attempts (and node fallbacks) until the timeout.
   */
  #connected(failFast = true): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const unreachable = (error?: Error & { data?: { code?: string } }) => {
        cleanup();
        reject(new Error(CONNECT_REFUSALS[error?.data?.code ?? ''] ?? 'The Roundtable server cannot be reached. Check your connection and try again.'));
      };
      const timer = setTimeout(() => unreachable(), CONNECT_TIMEOUT_MS);
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
      if (failFast) this.socket.on('connect_error', unreachable);
    });
  }
}
