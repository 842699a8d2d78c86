/**
 * The origin side of webinar edges. An edge node serving part of a webinar's audience connects to
 * this node's `/cluster` namespace with a node pass; this node (which holds the room's lease) opens a
 * PipeTransport with SRTP towards the edge and pipes every stage producer through it once, then
 * tells the edge how the stage changes. The room stays open while an edge watches it.
 */
import type { types } from 'mediasoup';
import type { Namespace, Server, Socket } from 'socket.io';
import type { Logger } from '../logger.ts';
import type { MediaAddress } from '../network/media-address.ts';
import type { Peer, PeerProducer } from '../rooms/Peer.ts';
import type { Room } from '../rooms/Room.ts';
import type { RoomRegistry } from '../rooms/RoomRegistry.ts';
import {
  EDGE_NAMESPACE,
  type OpenReply,
  type PipedProducer,
  type StagePeer,
  edgeAuthSchema,
  edgeReportSchemas,
  openRequestSchema,
} from './edge-protocol.ts';
import { connectPipe, createSrtpPipe, pipeEnd } from './pipe.ts';
import type { RedirectTokens } from './redirect-tokens.ts';
import { listen } from '../typed-emitter.ts';

export interface OriginLinksOptions {
  registry: RoomRegistry;
  tokens: RedirectTokens;
  address: MediaAddress;
  /** Whether this node holds the room's lease now. */
  holds: (roomId: string) => boolean;
  logger: Logger;
}

export function stagePeer(peer: Peer): StagePeer {
  return { id: peer.id, displayName: peer.displayName, role: peer.role as StagePeer['role'] };
}

export class OriginLinks {
  readonly #namespace: Namespace;
  /** Pipe links open now, per room: the edge node of each (for the health endpoint and tests). */
  readonly #edges = new Map<string, string[]>();
  /** Viewers each edge link reports, per room: their sum is the room's remote audience. */
  readonly #audiences = new Map<string, Map<string, number>>();

  constructor(io: Server, private readonly options: OriginLinksOptions) {
    this.#namespace = io.of(EDGE_NAMESPACE);
    this.#namespace.use((socket, next) => {
      this.#admit(socket).then(
        () => next(),
        (error: unknown) => next(new Error((error as Error).message)),
      );
    });
    this.#namespace.on('connection', (socket) => this.#serve(socket));
  }

  /** Per room, the edge node of each pipe link open now (a node twice would be two pipes). */
  edges(): Record<string, string[]> {
    return Object.fromEntries([...this.#edges].map(([roomId, nodes]) => [roomId, [...nodes]]));
  }

  close(): void {
    this.#namespace.disconnectSockets(true);
  }

  async #admit(socket: Socket): Promise<void> {
    const auth = edgeAuthSchema.safeParse(socket.handshake.auth);
    if (!auth.success) throw new Error('INVALID_REDIRECT: a node pass and a room are required');
    const { token, roomId } = auth.data;
    const edgeNode = await this.options.tokens.verify(token, roomId, 'edge');
    const room = this.options.registry.get(roomId);
    if (!room || room.closed || room.kind !== 'webinar' || !this.options.holds(roomId)) throw new Error('WRONG_NODE: this node does not serve that webinar');
    socket.data = { room, edgeNode };
  }

  #serve(socket: Socket): void {
    const { room, edgeNode } = socket.data as { room: Room; edgeNode: string };
    const logger = this.options.logger.child({ roomId: room.id, edgeNode });
    const release = room.holdOpen();
    let transport: types.PipeTransport | undefined;
    const consumers = new Map<string, types.Consumer>();
    const edges = this.#edges.get(room.id) ?? [];
    edges.push(edgeNode);
    this.#edges.set(room.id, edges);

    const pipe = async (producer: PeerProducer, owner: Peer): Promise<PipedProducer | undefined> => {
      if (!transport || transport.closed || consumers.has(producer.id) || producer.closed) return undefined;
      await room.routers.ensureProducerOn(producer.id, owner.router, room.routers.main);
      const consumer = await transport.consume({ producerId: producer.id });
      consumers.set(producer.id, consumer);
      // The edge's viewers may want any layer: the publisher keeps encoding them all while piped.
      const release = room.wantAllLayers(producer.id);
      consumer.observer.once('close', () => {
        consumers.delete(producer.id);
        release();
      });
      consumer.once('producerclose', () => socket.emit('producerClosed', { producerId: producer.id }));
      return { id: producer.id, kind: producer.kind, source: producer.appData.source, rtpParameters: consumer.rtpParameters as PipedProducer['rtpParameters'], paused: producer.paused };
    };
    const onProducer = (peer: Peer, producer: PeerProducer) => {
      pipe(producer, peer).then(
        (piped) => piped && socket.emit('producer', { peer: stagePeer(peer), producer: piped }),
        (error: unknown) => logger.warn({ err: error, producerId: producer.id }, 'cannot pipe a producer to an edge'),
      );
    };
    const onPaused = (_peer: Peer, producer: PeerProducer, paused: boolean) => {
      if (consumers.has(producer.id)) socket.emit('paused', { producerId: producer.id, paused });
    };
    const onStageLeft = (peer: Peer) => socket.emit('stageLeft', { peerId: peer.id });
    const onClose = () => socket.disconnect(true);
    // One chat and one audience count for the whole webinar, wherever its viewers are.
    const onChat = (message: unknown) => socket.emit('chat', message);
    const onAudience = () => socket.emit('audience', { count: room.audienceCount });
    const audiences = this.#audiences.get(room.id) ?? new Map<string, number>();
    this.#audiences.set(room.id, audiences);
    const remoteAudience = () => {
      let sum = 0;
      for (const count of audiences.values()) sum += count;
      room.setRemoteAudience(sum);
      for (const link of this.#namespace.sockets.values()) if ((link.data as { room?: Room }).room === room) link.emit('audience', { count: room.audienceCount });
    };
    socket.on('chat', (payload: unknown) => {
      const parsed = edgeReportSchemas.chat.safeParse(payload);
      if (parsed.success) room.relayChat(parsed.data);
      else logger.warn('malformed chat from an edge');
    });
    socket.on('audience', (payload: unknown) => {
      const parsed = edgeReportSchemas.audience.safeParse(payload);
      if (!parsed.success) return void logger.warn('malformed audience count from an edge');
      audiences.set(socket.id, parsed.data.count);
      remoteAudience();
    });
    const unsubscribe = [
      listen(room, 'chatPosted', onChat),
      listen(room, 'localAudience', onAudience),
      listen(room, 'producerAdded', onProducer),
      listen(room, 'producerPaused', onPaused),
      listen(room, 'stageLeft', onStageLeft),
      listen(room, 'close', onClose),
    ];

    socket.on('open', async (request: unknown, ack: unknown) => {
      if (typeof ack !== 'function' || transport) return;
      const parsed = openRequestSchema.safeParse(request);
      if (!parsed.success) return void ack({ ok: false, error: 'invalid open request' });
      try {
        transport = await createSrtpPipe(room.routers.main, this.options.address);
        await connectPipe(transport, parsed.data);
        const stage: OpenReply['stage'] = [];
        for (const peer of room.peers.values()) {
          if (!peer.onStage) continue;
          const producers: PipedProducer[] = [];
          for (const producer of peer.producers.values()) {
            const piped = await pipe(producer, peer);
            if (piped) producers.push(piped);
          }
          stage.push({ peer: stagePeer(peer), producers });
        }
        const reply: OpenReply = { ...pipeEnd(transport), stage };
        ack({ ok: true, data: reply });
        logger.info({ producers: consumers.size }, 'an edge node pipes this webinar');
      } catch (error) {
        logger.warn({ err: error }, 'cannot open a pipe to an edge');
        ack({ ok: false, error: (error as Error).message });
        socket.disconnect(true);
      }
    });

    socket.once('disconnect', () => {
      for (const off of unsubscribe) off();
      audiences.delete(socket.id);
      if (audiences.size === 0) this.#audiences.delete(room.id);
      if (!room.closed) remoteAudience();
      transport?.close();
      edges.splice(edges.indexOf(edgeNode), 1);
      if (edges.length === 0) this.#edges.delete(room.id);
      release();
      logger.info('an edge node stopped piping this webinar');
    });
  }
}
