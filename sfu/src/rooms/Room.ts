import { randomUUID } from 'node:crypto';
import type {
  ChatMessage,
  JoinReply,
  MeetingKeys,
  PeerInfo,
  RequestPayload,
  Role,
  RoomCloseReason,
  RoomKind,
  ServerToClientEvents,
  WebinarKeys,
} from '../../../shared/index.ts';
import { isModerator } from '../../../shared/index.ts';
import type { Config } from '../../../config/index.ts';
import type { RoomDirectory } from '../access/RoomDirectory.ts';
import { SignalingError } from '../errors.ts';
import { RoomFiles } from '../files/RoomFiles.ts';
import type { Logger } from '../logger.ts';
import { Moderation } from '../moderation/Moderation.ts';
import type { Network } from '../network/Network.ts';
import type { Recordings } from '../recording/Recordings.ts';
import { RoomRecording } from '../recording/RoomRecording.ts';
import { TypedEmitter } from '../typed-emitter.ts';
import { Dynacast } from './Dynacast.ts';
import { type Attachment, Peer, type PeerIdentity, type PeerProducer, producerInfo } from './Peer.ts';
import { type ProduceRequest, RoomMedia, consumerInfo } from './RoomMedia.ts';
import { RoomRecovery } from './RoomRecovery.ts';
import type { RoomRouters } from './RoomRouters.ts';
import type { SpeakerDetector } from './SpeakerDetector.ts';

/**
 * `chat`: the history changed (cluster mode keeps a copy in the store). The stage events let a
 * webinar's origin node mirror its stage to edge nodes: a producer added or paused, and a peer that
 * left the stage (left the room, or was sent back to the audience).
 */
type RoomEvents = {
  close: [];
  chat: [history: readonly ChatMessage[]];
  producerAdded: [peer: Peer, producer: PeerProducer];
  producerPaused: [peer: Peer, producer: PeerProducer, paused: boolean];
  stageLeft: [peer: Peer];
  peerLeft: [peer: Peer];
  /** A chat message posted here or relayed from another node (cluster webinars share one chat). */
  chatPosted: [message: ChatMessage];
  /** The number of viewers on this node changed (cluster webinars add up their audiences). */
  localAudience: [count: number];
};
/** Viewers hear the audience size at most this often, however fast people come and go. */
const AUDIENCE_COUNT_INTERVAL_MS = 1_000;
type ResumeRequest = NonNullable<RequestPayload<'join'>['resume']>;

/**
 * A meeting or a webinar: its peers and what they share beyond media (chat, hands, who is speaking,
 * the stage). Media routing lives in RoomMedia. A peer whose connection drops keeps its place, unseen
 * by others, for the grace period; the room closes itself when the last peer is gone.
 *
 * In a webinar, news about stage members (host, speakers) goes to everyone, but news about a viewer
 * goes only to the stage: viewers learn the audience size from a throttled count, so a join storm
 * of N viewers costs O(N) messages, not O(N²).
 */
export class Room extends TypedEmitter<RoomEvents> {
  readonly peers = new Map<string, Peer>();
  readonly media: RoomMedia;
  /** Host control: admission (lock, lobby, stored identities) and host powers. */
  readonly moderation: Moderation;
  /** Keeps the room (and everyone in it) when one of its workers dies. */
  readonly recovery: RoomRecovery;
  /** Server-side recording, a file per track, started and stopped by hosts. */
  readonly recording: RoomRecording;
  /** Files shared in the room: uploaded once, stored while the room lives, sent to each receiver. */
  readonly files: RoomFiles;
  readonly #dynacast: Dynacast;
  readonly #chat: ChatMessage[] = [];
  #audienceTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Things besides peers that keep the room open when it is empty (edge nodes watching a webinar). */
  #holds = 0;
  /** Viewers of this webinar on other nodes (cluster mode), counted in the audience size. */
  #remoteAudience = 0;

  constructor(
    readonly id: string,
    readonly kind: RoomKind,
    readonly routers: RoomRouters,
    readonly speakers: SpeakerDetector,
    network: Network,
    directory: RoomDirectory,
    private readonly config: Config,
    private readonly logger: Logger,
    recordings: Recordings,
  ) {
    super();
    this.#dynacast = new Dynacast(() => this.peers.values());
    this.media = new RoomMedia(routers, this.peers, this.#dynacast, network, config, logger);
    this.moderation = new Moderation(this, directory, config, logger);
    this.files = new RoomFiles(this, config.files, logger.child({ component: 'files' }));
    this.recovery = new RoomRecovery(this, this.#dynacast, logger);
    this.recording = new RoomRecording(id, routers, recordings, logger, {
      announce: (recording) => this.#broadcast(undefined, 'recordingChanged', { recording }),
      wantAllLayers: (producerId) => this.#dynacast.wantAll(producerId),
    });
    speakers.on('activeSpeaker', (peerId) => {
      this.#broadcast(undefined, 'activeSpeaker', { peerId });
      this.recording.speakerChanged(peerId);
    });
    speakers.on('speaking', (peerIds) => this.#broadcast(undefined, 'speaking', { peerIds }));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Viewers here and, in cluster mode, on the other nodes serving this webinar. */
  get audienceCount(): number {
    return this.localAudienceCount + this.#remoteAudience;
  }

  get localAudienceCount(): number {
    let count = 0;
    for (const peer of this.peers.values()) if (!peer.onStage) count++;
    return count;
  }

  /** Cluster mode: how many viewers the other nodes serving this webinar have. */
  setRemoteAudience(count: number): void {
    if (count === this.#remoteAudience) return;
    this.#remoteAudience = count;
    this.#audienceChanged(false);
  }

  /** Adds a new peer; joins go through `moderation.admit`, which decides the role and identity. */
  async addPeer(displayName: string, attachment: Attachment, role: Role, identity?: PeerIdentity): Promise<Peer> {
    this.#checkCapacity(role);
    const router = await this.routers.routerForNewPeer();
    this.#checkCapacity(role); // others may have joined while a router was being made
    const peer = new Peer(displayName, attachment, router, role, identity);
    this.peers.set(peer.id, peer);
    if (!peer.onStage) this.#audienceChanged();
    peer.on('producerClosed', (producer) => {
      this.#dynacast.forget(producer.id);
      if (producer.appData.source === 'microphone') this.speakers.silence(peer.id);
      this.#broadcast(peer, 'producerClosed', { producerId: producer.id, peerId: peer.id });
    });
    this.#announce(peer, 'peerJoined', { peer: peer.info() });
    this.logger.info({ peerId: peer.id, peers: this.peers.size }, 'peer joined');
    return peer;
  }

  #checkCapacity(role: Role): void {
    if (this.#closed) throw new SignalingError('NOT_JOINED', 'the meeting has just ended');
    const { maxPeersPerRoom, maxViewersPerWebinar } = this.config.rooms;
    if (role === 'viewer') {
      if (this.audienceCount >= maxViewersPerWebinar) throw new SignalingError('ROOM_FULL', `the audience is full (${maxViewersPerWebinar})`);
    } else if (this.peers.size - this.localAudienceCount >= maxPeersPerRoom) {
      throw new SignalingError('ROOM_FULL', `room is full (${maxPeersPerRoom} participants)`);
    }
  }

  /**
   * Gives a peer's place to a new connection holding its token (after a dropped connection, or from
   * another tab). Transports the new connection does not hold are closed so it can make fresh ones.
   * Returns undefined when there is no such peer or the token is wrong: the caller joins afresh.
   */
  resumePeer(resume: ResumeRequest, attachment: Attachment | undefined): Peer | undefined {
    const peer = this.peers.get(resume.peerId);
    if (!peer || !peer.hasResumeToken(resume.token)) return undefined;
    if (attachment) peer.attach(attachment); // absent: the connection already speaking for it asks again
    for (const transport of [...peer.transports.values()]) {
      if (!resume.transportIds.includes(transport.id)) transport.close();
    }
    this.logger.info({ peerId: peer.id }, 'peer resumed');
    return peer;
  }

  /** The connection dropped: keep the place for the grace period, then remove the peer. */
  peerDisconnected(peer: Peer): void {
    if (!this.peers.has(peer.id)) return;
    peer.detach();
    const grace = this.config.rooms.reconnectGraceMs;
    if (grace === 0) return this.removePeer(peer);
    this.logger.info({ peerId: peer.id, graceMs: grace }, 'peer disconnected; holding its place');
    peer.graceTimer = setTimeout(() => this.removePeer(peer), grace);
  }

  /** Removes the peer, closing its media; the room closes itself when the last peer is gone (and nobody waits). */
  removePeer(peer: Peer): void {
    if (!this.peers.delete(peer.id)) return;
    this.files.peerLeft(peer); // before its transports close: its uploads end as "left", not as failed
    peer.close();
    this.speakers.silence(peer.id);
    this.#announce(peer, 'peerLeft', { peerId: peer.id });
    if (!peer.onStage) this.#audienceChanged();
    else this.emit('stageLeft', peer);
    this.emit('peerLeft', peer);
    this.logger.info({ peerId: peer.id, peers: this.peers.size }, 'peer left');
    this.closeIfEmpty();
  }

  /** For a join that created the room and then could not add its peer; waiters in the lobby keep it. */
  closeIfEmpty(): void {
    if (this.peers.size === 0 && this.#holds === 0 && !this.moderation.holdsRoomOpen) this.close();
  }

  /** Keeps the room open while empty, until the returned release is called (once). */
  holdOpen(): () => void {
    this.#holds += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds -= 1;
      this.closeIfEmpty();
    };
  }

  /** Who this peer is told about: everyone for the stage, only the stage for a viewer. */
  otherPeers(peer: Peer): PeerInfo[] {
    return [...this.peers.values()]
      .filter((other) => peer.sees(other))
      .map((other) => other.info());
  }

  /** The room as this peer sees it; signaling adds the peer's network settings. */
  joinReply(peer: Peer, resumed: boolean, keys: { webinarKeys?: WebinarKeys; meetingKeys?: MeetingKeys }): Omit<JoinReply, 'network'> {
    const { webinarKeys, meetingKeys } = keys;
    const { media, client } = this.config;
    return {
      peerId: peer.id,
      roomId: this.id,
      kind: this.kind,
      role: peer.role,
      ...(peer.role === 'host' && webinarKeys ? { webinarKeys } : {}),
      ...(isModerator(peer.role) && meetingKeys ? { meetingKeys } : {}),
      roomSettings: this.moderation.settings,
      ...(isModerator(peer.role) ? { lobby: this.moderation.waiting() } : {}),
      audienceCount: this.audienceCount,
      settings: {
        simulcast: media.simulcast,
        screenMaxBitrate: media.screenMaxBitrate,
        opus: { dtx: media.opusDtx, fec: media.opusFec },
        gridPageSize: { desktop: client.gridPageSize, phone: client.gridPageSizePhone },
        files: { enabled: this.config.files.enabled, maxFileBytes: this.config.files.maxFileBytes },
      },
      resumeToken: peer.resumeToken,
      resumed,
      self: peer.info(),
      routerRtpCapabilities: this.routers.main.rtpCapabilities as JoinReply['routerRtpCapabilities'],
      peers: this.otherPeers(peer),
      transportIds: [...peer.transports.keys()],
      consumers: [...peer.consumers.values()].map(consumerInfo),
      chat: [...this.#chat],
      files: this.files.list(),
      activeSpeakerId: this.speakers.activeSpeaker,
      speakingPeerIds: this.speakers.speaking,
      recording: this.recording.state,
    };
  }

  async produce(peer: Peer, request: ProduceRequest): Promise<PeerProducer> {
    const mutedBy = this.moderation.hostMutedBy(peer, request.source); // so it starts paused, after a restart too
    const producer = await this.media.produce(peer, request, mutedBy !== undefined || request.paused === true);
    // While a dead main router is being replaced, the recovery adds every microphone to the new one.
    if (request.source === 'microphone' && !this.routers.main.closed) {
      // Speaker detection runs on the main router: microphones from other workers are piped there.
      await this.routers.ensureProducerOn(producer.id, peer.router, this.routers.main);
      await this.speakers.addMicrophone(producer);
    }
    this.#broadcast(peer, 'producerAdded', { producer: producerInfo(producer) });
    this.media.fanOut(producer);
    if (mutedBy !== undefined) peer.notify('mutedByHost', { source: 'microphone', byName: mutedBy });
    this.emit('producerAdded', peer, producer);
    this.recording.track(peer, producer);
    return producer;
  }

  /** Every producer in the room now, with its owner (what a recording starts with). */
  *producers(): Iterable<{ peer: Peer; producer: PeerProducer }> {
    for (const peer of this.peers.values()) for (const producer of peer.producers.values()) yield { peer, producer };
  }

  /**
   * A producer that reaches this room from elsewhere (a webinar's origin node, through a pipe) for a
   * stand-in peer: announced and fanned out like one made here, and heard by speaker detection.
   */
  async addRemoteProducer(peer: Peer, producer: PeerProducer): Promise<void> {
    peer.addProducer(producer);
    if (producer.appData.source === 'microphone') await this.speakers.addMicrophone(producer);
    this.#broadcast(peer, 'producerAdded', { producer: producerInfo(producer) });
    this.media.fanOut(producer);
  }

  /** A pipe to another node carries this producer: its publisher keeps every layer until released. */
  wantAllLayers(producerId: string): () => void {
    return this.#dynacast.wantAll(producerId);
  }

  /** The origin paused or resumed a piped producer. */
  async setRemoteProducerPaused(peer: Peer, producer: PeerProducer, paused: boolean): Promise<void> {
    if (paused) await producer.pause();
    else await producer.resume();
    if (paused && producer.appData.source === 'microphone') this.speakers.silence(peer.id);
    this.#broadcast(peer, 'producerPaused', { peerId: peer.id, producerId: producer.id, source: producer.appData.source, paused });
  }

  async setProducerPaused(peer: Peer, producerId: string, paused: boolean): Promise<void> {
    const producer = await this.media.setProducerPaused(peer, producerId, paused);
    const source = producer.appData.source;
    if (paused && source === 'microphone') this.speakers.silence(peer.id);
    if (!paused && source === 'microphone') this.moderation.selfUnmuted(peer);
    this.#broadcast(peer, 'producerPaused', { peerId: peer.id, producerId, source, paused });
    this.emit('producerPaused', peer, producer, paused);
  }

  closeProducer(peer: Peer, producerId: string): void {
    peer.ownProducer(producerId).close();
  }

  setHandRaised(peer: Peer, raised: boolean): void {
    peer.handRaisedAt = raised ? (peer.handRaisedAt ?? Date.now()) : null;
    this.#announce(peer, 'peerUpdated', { peerId: peer.id, handRaisedAt: peer.handRaisedAt });
  }

  inviteToStage(host: Peer, peerId: string): void {
    this.#requireHost(host);
    const viewer = this.peers.get(peerId);
    if (!viewer || viewer.onStage) throw new SignalingError('PEER_NOT_FOUND', 'no such audience member');
    viewer.invitedBy = host.id;
    viewer.notify('stageInvite', { byPeerId: host.id, byName: host.displayName });
  }

  answerStageInvite(viewer: Peer, accept: boolean): void {
    const hostId = viewer.invitedBy;
    if (!hostId || viewer.onStage) throw new SignalingError('NOT_INVITED', 'nobody invited you onto the stage');
    viewer.invitedBy = undefined;
    this.peers.get(hostId)?.notify('stageInviteAnswered', { peerId: viewer.id, accepted: accept });
    if (!accept) return;
    this.setRole(viewer, 'speaker');
    // The raised hand has been answered.
    if (viewer.handRaisedAt !== null) this.setHandRaised(viewer, false);
  }

  /** The speaker's media closes (so everyone drops it) and they return to the audience. */
  moveToAudience(host: Peer, peerId: string): void {
    this.#requireHost(host);
    const speaker = this.peers.get(peerId);
    if (!speaker || speaker.role !== 'speaker') throw new SignalingError('PEER_NOT_FOUND', 'no such speaker');
    speaker.transportFor('send')?.close();
    speaker.handRaisedAt = null;
    this.setRole(speaker, 'viewer');
  }

  #requireHost(peer: Peer): void {
    if (!isModerator(peer.role)) throw new SignalingError('FORBIDDEN', 'only hosts and co-hosts manage the stage');
  }

  /**
   * Stage members knew the peer already and hear of the new role; viewers see it arrive on, or leave,
   * the stage as a join or a departure.
   */
  setRole(peer: Peer, role: Role): void {
    const wasOnStage = peer.onStage;
    peer.role = role;
    peer.notify('roleChanged', { peerId: peer.id, role });
    for (const other of this.peers.values()) {
      if (other === peer) continue;
      if (other.onStage) other.notify('roleChanged', { peerId: peer.id, role });
      else if (!wasOnStage && peer.onStage) other.notify('peerJoined', { peer: peer.info() });
      else if (wasOnStage && !peer.onStage) other.notify('peerLeft', { peerId: peer.id });
    }
    if (wasOnStage && !peer.onStage) this.emit('stageLeft', peer);
    this.#audienceChanged();
  }

  /** `local`: this node's own audience changed (other nodes serving the webinar hear of it). */
  #audienceChanged(local = true): void {
    if (this.kind !== 'webinar') return;
    if (local) this.emit('localAudience', this.localAudienceCount);
    this.#audienceTimer ??= setTimeout(() => {
      this.#audienceTimer = undefined;
      this.#broadcast(undefined, 'audienceCount', { count: this.audienceCount });
    }, AUDIENCE_COUNT_INTERVAL_MS);
  }

  postChat(peer: Peer, text: string): ChatMessage {
    const message: ChatMessage = { id: randomUUID(), peerId: peer.id, displayName: peer.displayName, text, sentAt: Date.now() };
    this.#keepChat(message);
    this.#broadcast(peer, 'chatMessage', message);
    this.emit('chatPosted', message);
    return message;
  }

  /** A message posted on another node serving this room (cluster webinars): shown here too, once. */
  relayChat(message: ChatMessage): void {
    if (this.#chat.some((kept) => kept.id === message.id)) return;
    this.#keepChat(message);
    this.#broadcast(undefined, 'chatMessage', message);
    this.emit('chatPosted', message);
  }

  #keepChat(message: ChatMessage): void {
    this.#chat.push(message);
    if (this.#chat.length > this.config.rooms.chatHistory) this.#chat.splice(0, this.#chat.length - this.config.rooms.chatHistory);
    this.emit('chat', this.#chat);
  }

  /** A history kept elsewhere (another node served the room before): shown to everyone who joins. */
  restoreChat(history: readonly ChatMessage[]): void {
    this.#chat.splice(0, this.#chat.length, ...history.slice(-this.config.rooms.chatHistory));
  }

  /** Closes every peer, the lobby, the shared files (their folder is deleted) and the routers. Safe to call twice. */
  close(reason?: RoomCloseReason, byName?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const peer of this.peers.values()) {
      if (reason) peer.notify('roomClosed', { reason, ...(byName ? { byName } : {}) });
      peer.close();
    }
    this.peers.clear();
    this.moderation.close();
    this.files.close();
    if (this.#audienceTimer) clearTimeout(this.#audienceTimer);
    this.speakers.close();
    this.#dynacast.close();
    this.recording.close();
    this.routers.close();
    this.logger.info({ reason: reason ?? 'empty' }, 'room closed');
    this.emit('close');
  }

  /** News about `subject`: everyone hears about stage members; only the stage hears about viewers. */
  #announce<E extends keyof ServerToClientEvents>(
    subject: Peer,
    event: E,
    ...args: Parameters<ServerToClientEvents[E]>
  ): void {
    for (const peer of this.peers.values()) {
      if (peer.sees(subject)) peer.notify(event, ...args);
    }
  }

  /** Sends to every peer except `from` (everyone when `from` is undefined). */
  #broadcast<E extends keyof ServerToClientEvents>(
    from: Peer | undefined,
    event: E,
    ...args: Parameters<ServerToClientEvents[E]>
  ): void {
    for (const peer of this.peers.values()) if (peer !== from) peer.notify(event, ...args);
  }
}
