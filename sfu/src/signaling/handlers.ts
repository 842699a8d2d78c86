import type { types } from 'mediasoup';
import type { ReplyData, RequestName, RequestPayload } from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';
import type { Notify, Peer } from '../rooms/Peer.ts';
import type { Room } from '../rooms/Room.ts';
import type { RoomRegistry } from '../rooms/RoomRegistry.ts';

/** What a handler may touch: the sender's own membership, and the registry to join a room. */
export interface HandlerContext {
  readonly registry: RoomRegistry;
  readonly notify: Notify;
  membership: { room: Room; peer: Peer } | undefined;
  /** False once the socket is gone, so a slow join does not leave a ghost peer. */
  isConnected(): boolean;
}

type Handler<N extends RequestName> = (ctx: HandlerContext, payload: RequestPayload<N>) => Promise<ReplyData[N]>;

function joined(ctx: HandlerContext): { room: Room; peer: Peer } {
  if (!ctx.membership) throw new SignalingError('NOT_JOINED', 'join a room first');
  return ctx.membership;
}

function notJoined(ctx: HandlerContext): void {
  if (ctx.membership) throw new SignalingError('ALREADY_JOINED', `already in room ${ctx.membership.room.id}`);
}

const EMPTY: Record<string, never> = {};

/** One handler per request; each acts only on the sender's own peer and what that peer owns. */
export const handlers: { [N in RequestName]: Handler<N> } = {
  async join(ctx, { roomId, displayName }) {
    notJoined(ctx);
    const room = await ctx.registry.getOrCreate(roomId);
    notJoined(ctx); // a second join may have completed while this one waited for the router
    if (!ctx.isConnected()) {
      room.closeIfEmpty();
      throw new SignalingError('NOT_JOINED', 'disconnected while joining');
    }
    const peer = room.addPeer(displayName, ctx.notify);
    ctx.membership = { room, peer };
    // The room may close under the peer (worker died, shutdown): the socket is then no longer a member.
    peer.once('close', () => {
      if (ctx.membership?.peer === peer) ctx.membership = undefined;
    });
    return {
      peerId: peer.id,
      roomId: room.id,
      routerRtpCapabilities: room.router.rtpCapabilities as ReplyData['join']['routerRtpCapabilities'],
      peers: room.otherPeers(peer),
    };
  },

  async ready(ctx, { rtpCapabilities }) {
    const { room, peer } = joined(ctx);
    const consumers = await room.setReady(peer, rtpCapabilities as types.RtpCapabilities);
    return { consumers };
  },

  async createTransport(ctx, { direction }) {
    const { room, peer } = joined(ctx);
    return room.createTransport(peer, direction);
  },

  async connectTransport(ctx, { transportId, dtlsParameters }) {
    const { room, peer } = joined(ctx);
    await room.connectTransport(peer, transportId, dtlsParameters as types.DtlsParameters);
    return EMPTY;
  },

  async produce(ctx, request) {
    const { room, peer } = joined(ctx);
    const producer = await room.produce(peer, request);
    return { producerId: producer.id };
  },

  async closeProducer(ctx, { producerId }) {
    const { room, peer } = joined(ctx);
    room.closeProducer(peer, producerId);
    return EMPTY;
  },

  async consume(ctx, { producerId }) {
    const { room, peer } = joined(ctx);
    return room.consume(peer, producerId);
  },

  async resumeConsumer(ctx, { consumerId }) {
    const { room, peer } = joined(ctx);
    await room.resumeConsumer(peer, consumerId);
    return EMPTY;
  },

  async leave(ctx) {
    const { room, peer } = joined(ctx);
    ctx.membership = undefined;
    room.removePeer(peer);
    return EMPTY;
  },
};
