import type { types } from 'mediasoup';
import { type ReplyData, type RequestName, type RequestPayload, isModerator } from '../../../shared/index.ts';
import type { Access } from '../access/Access.ts';
import { SignalingError } from '../errors.ts';
import type { ConnectivityProbeSession } from '../network/ConnectivityProbe.ts';
import type { Network } from '../network/Network.ts';
import type { Attachment, Notify, Peer } from '../rooms/Peer.ts';
import type { RoomPlacement } from '../rooms/placement.ts';
import type { Room } from '../rooms/Room.ts';
import type { RoomRegistry } from '../rooms/RoomRegistry.ts';

/** What a handler may touch: the sender's own membership, and the registry to join a room. */
export interface HandlerContext {
  readonly registry: RoomRegistry;
  /** The access policy: who may create rooms, and what a join opens with which role. */
  readonly access: Access;
  readonly network: Network;
  /** Which node serves a room: always this one, except in cluster mode. */
  readonly placement: RoomPlacement;
  /** This connection's pre-join connectivity check, if it runs one. */
  readonly probe: ConnectivityProbeSession;
  readonly notify: Notify;
  membership: { room: Room; peer: Peer } | undefined;
  /** A join is under way (it may wait long in a lobby): a second one is refused meanwhile. */
  joining: boolean;
  /** False once the socket is gone, so a slow join does not leave a ghost peer. */
  isConnected(): boolean;
}

type Handler<N extends RequestName> = (ctx: HandlerContext, payload: RequestPayload<N>) => Promise<ReplyData[N]>;

function joined(ctx: HandlerContext): { room: Room; peer: Peer } {
  if (!ctx.membership) throw new SignalingError('NOT_JOINED', 'join a room first');
  return ctx.membership;
}

/** The sender's membership, if they are a host or co-host of the room; FORBIDDEN otherwise. */
function moderating(ctx: HandlerContext, what: string): { room: Room; peer: Peer } {
  const membership = joined(ctx);
  if (!isModerator(membership.peer.role)) throw new SignalingError('FORBIDDEN', `only hosts and co-hosts ${what}`);
  return membership;
}

function notJoined(ctx: HandlerContext): void {
  if (ctx.membership) throw new SignalingError('ALREADY_JOINED', `already in room ${ctx.membership.room.id}`);
  if (ctx.joining) throw new SignalingError('ALREADY_JOINED', 'a join is already under way on this connection');
}

/** This connection speaks for a peer until the peer closes or another connection takes over. */
function bind(ctx: HandlerContext, room: Room, peer: Peer): void {
  ctx.membership = { room, peer };
  peer.once('close', () => {
    if (ctx.membership?.peer === peer) ctx.membership = undefined;
  });
}

function attachmentFor(ctx: HandlerContext): Attachment {
  return {
    notify: ctx.notify,
    onReplaced: () => {
      ctx.membership = undefined;
      ctx.notify('sessionReplaced', {});
    },
  };
}

/** The join itself; `handlers.join` runs it with the connection marked as joining. */
async function joinRoom(ctx: HandlerContext, request: RequestPayload<'join'>): Promise<ReplyData['join']> {
  const { roomId, resume } = request;
  // Cluster mode: served here, or the client is sent where it is (WRONG_NODE). Then, before anything
  // is created: a wrong link or token never makes a room.
  const placed = await ctx.placement.place(roomId, request.redirect);
  const entry = await ctx.access.resolveJoin(request);
  let room: Room;
  if (placed.edge) {
    // Another node owns this webinar: its audience may be served here; its stage only there.
    if (entry.role !== 'viewer') throw await placed.edge.toOwner();
    room = await placed.edge.open();
  } else {
    if (entry.role === 'viewer') await ctx.placement.spreadViewer(roomId, request.redirect !== undefined);
    room = await ctx.registry.getOrCreate(roomId, ctx.registry.get(roomId)?.kind ?? entry.kind);
  }
  if (!ctx.isConnected()) {
    room.closeIfEmpty();
    throw new SignalingError('NOT_JOINED', 'disconnected while joining');
  }
  const attachment = attachmentFor(ctx);
  const resumed = resume ? room.resumePeer(resume, attachment) : undefined;
  const peer = resumed ?? (await room.moderation.admit(entry, resume, attachment, ctx));
  if (!ctx.isConnected()) {
    // The socket went away while the router was being chosen: do not leave a ghost behind.
    room.removePeer(peer);
    throw new SignalingError('NOT_JOINED', 'disconnected while joining');
  }
  bind(ctx, room, peer);
  ctx.probe.close(); // the check is over once the person is in
  return joinReply(ctx, room, peer, resumed !== undefined);
}

function joinReply(ctx: HandlerContext, room: Room, peer: Peer, resumed: boolean): ReplyData['join'] {
  const directory = ctx.access.directory;
  const keys = { webinarKeys: directory.webinarKeys(room.id), meetingKeys: directory.meetingKeys(room.id) };
  const nodes = ctx.placement.nodes();
  return { ...room.joinReply(peer, resumed, keys), network: ctx.network.settingsFor(peer.id), ...(nodes ? { nodes } : {}) };
}

/**
 * A member asks for its own place again on its own connection (after `mediaReset`: its worker died).
 * Answered as a resumed join, so the client keeps what the server kept and rebuilds the rest; the
 * same credentials a reconnecting client would need are checked.
 */
function resumeInPlace(ctx: HandlerContext, request: RequestPayload<'join'>): ReplyData['join'] {
  const { room, peer } = joined(ctx);
  const { resume } = request;
  if (!resume || request.roomId !== room.id || resume.peerId !== peer.id || !room.resumePeer(resume, undefined)) {
    throw new SignalingError('ALREADY_JOINED', `already in room ${room.id}`);
  }
  return joinReply(ctx, room, peer, true);
}

const EMPTY: Record<string, never> = {};

/** One handler per request; each acts only on the sender's own peer and what that peer owns. */
export const handlers: { [N in RequestName]: Handler<N> } = {
  async join(ctx, request) {
    if (ctx.membership && request.resume) return resumeInPlace(ctx, request);
    notJoined(ctx);
    ctx.joining = true;
    try {
      return await joinRoom(ctx, request);
    } finally {
      ctx.joining = false;
    }
  },

  async createWebinar(ctx, { secret }) {
    notJoined(ctx);
    const keys = ctx.access.createWebinar(secret);
    await ctx.placement.created(keys.roomId);
    return keys;
  },

  async createMeeting(ctx, { secret }) {
    notJoined(ctx);
    const keys = ctx.access.createMeeting(secret);
    await ctx.placement.created(keys.roomId);
    return keys;
  },

  async startRecording(ctx) {
    const { room, peer } = joined(ctx);
    return room.recording.start(peer, room.producers(), room.speakers.activeSpeaker);
  },

  async stopRecording(ctx) {
    const { room } = moderating(ctx, 'stop a recording');
    return { tracks: await room.recording.stop() };
  },

  async listRecordings(ctx) {
    const { room } = moderating(ctx, 'see the recordings');
    return { recordings: ctx.registry.recordings.list(room.id) };
  },

  async renderRecording(ctx, { recordingId, layout }) {
    const { room } = moderating(ctx, 'render a recording');
    return ctx.registry.recordings.render(room.id, recordingId, layout);
  },

  async deleteRecording(ctx, { recordingId }) {
    const { room } = moderating(ctx, 'delete a recording');
    ctx.registry.recordings.delete(room.id, recordingId);
    return EMPTY;
  },

  async roomStatus(ctx, { roomId }) {
    notJoined(ctx);
    return { recording: ctx.registry.get(roomId)?.recording.state ?? null };
  },

  async muteParticipant(ctx, { peerId }) {
    const { room, peer } = joined(ctx);
    await room.moderation.muteParticipant(peer, peerId);
    return EMPTY;
  },

  async askToUnmute(ctx, { peerId }) {
    const { room, peer } = joined(ctx);
    room.moderation.askToUnmute(peer, peerId);
    return EMPTY;
  },

  async stopParticipantVideo(ctx, { peerId, source }) {
    const { room, peer } = joined(ctx);
    await room.moderation.stopParticipantVideo(peer, peerId, source);
    return EMPTY;
  },

  async muteEveryone(ctx) {
    const { room, peer } = joined(ctx);
    return { muted: await room.moderation.muteEveryone(peer) };
  },

  async removeParticipant(ctx, { peerId }) {
    const { room, peer } = joined(ctx);
    room.moderation.removeParticipant(peer, peerId);
    return EMPTY;
  },

  async setRoomSettings(ctx, settings) {
    const { room, peer } = joined(ctx);
    return room.moderation.setRoomSettings(peer, settings);
  },

  async setParticipantRole(ctx, { peerId, role }) {
    const { room, peer } = joined(ctx);
    room.moderation.setParticipantRole(peer, peerId, role);
    return EMPTY;
  },

  async transferHost(ctx, { peerId }) {
    const { room, peer } = joined(ctx);
    room.moderation.transferHost(peer, peerId);
    return EMPTY;
  },

  async answerLobby(ctx, answer) {
    const { room, peer } = joined(ctx);
    return { answered: room.moderation.answerLobby(peer, answer) };
  },

  async endMeeting(ctx) {
    const { room, peer } = joined(ctx);
    room.moderation.endMeeting(peer);
    return EMPTY;
  },

  async inviteToStage(ctx, { peerId }) {
    const { room, peer } = joined(ctx);
    room.inviteToStage(peer, peerId);
    return EMPTY;
  },

  async answerStageInvite(ctx, { accept }) {
    const { room, peer } = joined(ctx);
    room.answerStageInvite(peer, accept);
    return EMPTY;
  },

  async moveToAudience(ctx, { peerId }) {
    const { room, peer } = joined(ctx);
    room.moveToAudience(peer, peerId);
    return EMPTY;
  },

  async ready(ctx, { rtpCapabilities }) {
    const { room, peer } = joined(ctx);
    const consumers = await room.media.setReady(peer, rtpCapabilities as types.RtpCapabilities);
    return { consumers };
  },

  async createTransport(ctx, { direction }) {
    const { room, peer } = joined(ctx);
    return room.media.createTransport(peer, direction);
  },

  async connectTransport(ctx, { transportId, dtlsParameters }) {
    const { room, peer } = joined(ctx);
    await room.media.connectTransport(peer, transportId, dtlsParameters as types.DtlsParameters);
    return EMPTY;
  },

  async refreshIceServers(ctx) {
    const { peer } = joined(ctx);
    return ctx.network.settingsFor(peer.id);
  },

  async checkConnectivity(ctx, request) {
    notJoined(ctx);
    return ctx.probe.start({ relay: await ctx.access.mayProbeRelay(request) });
  },

  async connectProbe(ctx, { path, dtlsParameters }) {
    notJoined(ctx);
    await ctx.probe.connect(path, dtlsParameters as types.DtlsParameters);
    return EMPTY;
  },

  async restartIce(ctx, { transportId }) {
    const { room, peer } = joined(ctx);
    return { iceParameters: await room.media.restartIce(peer, transportId) };
  },

  async produce(ctx, request) {
    const { room, peer } = joined(ctx);
    const producer = await room.produce(peer, request);
    return { producerId: producer.id };
  },

  async setProducerPaused(ctx, { producerId, paused }) {
    const { room, peer } = joined(ctx);
    await room.setProducerPaused(peer, producerId, paused);
    return EMPTY;
  },

  async closeProducer(ctx, { producerId }) {
    const { room, peer } = joined(ctx);
    room.closeProducer(peer, producerId);
    return EMPTY;
  },

  async consume(ctx, { producerId }) {
    const { room, peer } = joined(ctx);
    return room.media.consume(peer, producerId);
  },

  async resumeConsumer(ctx, { consumerId }) {
    const { room, peer } = joined(ctx);
    await room.media.resumeConsumer(peer, consumerId);
    return EMPTY;
  },

  async updateConsumers(ctx, { updates }) {
    const { room, peer } = joined(ctx);
    await room.media.updateConsumers(peer, updates);
    return EMPTY;
  },

  async setHandRaised(ctx, { raised }) {
    const { room, peer } = joined(ctx);
    room.setHandRaised(peer, raised);
    return EMPTY;
  },

  async sendChat(ctx, { text }) {
    const { room, peer } = joined(ctx);
    return room.postChat(peer, text);
  },

  async openFileUpload(ctx, request) {
    const { room, peer } = joined(ctx);
    return { dataProducerId: await room.files.openUpload(peer, request) };
  },

  async openFileDownload(ctx) {
    const { room, peer } = joined(ctx);
    return room.files.openDownload(peer);
  },

  async offerFile(ctx, { name, size }) {
    const { room, peer } = joined(ctx);
    return { file: room.files.offer(peer, name, size) };
  },

  async cancelFile(ctx, { fileId }) {
    const { room, peer } = joined(ctx);
    room.files.cancel(peer, fileId);
    return EMPTY;
  },

  async fetchFile(ctx, { fileId, offset }) {
    const { room, peer } = joined(ctx);
    room.files.fetch(peer, fileId, offset);
    return EMPTY;
  },

  async stopFileDownload(ctx, { fileId }) {
    const { room, peer } = joined(ctx);
    room.files.stopDownload(peer, fileId);
    return EMPTY;
  },

  async leave(ctx) {
    const { room, peer } = joined(ctx);
    ctx.membership = undefined;
    room.removePeer(peer);
    return EMPTY;
  },
};
