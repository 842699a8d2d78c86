/**
 * The edge side of a webinar: this node serves part of the audience of a webinar that another node
 * (its origin) owns. The live room here holds this node's viewers and one stand-in peer per stage
 * member, whose producers arrive over a single PipeTransport (SRTP) from the origin; viewers consume
 * them as they would local ones, so each speaker's stream crosses the network once per edge. The
 * origin's news (producers added, paused, closed; people leaving the stage) is applied as it comes.
 * When the last viewer here leaves, or the origin goes away, the link and the room close.
 */
import { randomBytes } from 'node:crypto';
import type { types } from 'mediasoup';
import { io, type Socket } from 'socket.io-client';
import type { Logger } from '../logger.ts';
import type { MediaAddress } from '../network/media-address.ts';
import type { Attachment, Peer, PeerProducer, ProducerAppData } from '../rooms/Peer.ts';
import type { Room } from '../rooms/Room.ts';
import { connectPipe, createSrtpPipe, pipeEnd } from './pipe.ts';
import { EDGE_NAMESPACE, type EdgeNews, type PipedProducer, type StagePeer, edgeNewsSchemas, openReplySchema } from './edge-protocol.ts';

const OPEN_TIMEOUT_MS = 10_000;
/** Stand-ins have no connection: what the room tells them goes nowhere. */
const NOWHERE: Attachment = { notify: () => undefined, onReplaced: () => undefined };

export class EdgeRoom {
  readonly #stage = new Map<string, Peer>();
  readonly #producers = new Map<string, { peer: Peer; producer: PeerProducer }>();
  #socket: Socket | undefined;
  #transport: types.PipeTransport | undefined;
  #closed = false;

  private constructor(
    readonly room: Room,
    readonly originId: string,
    private readonly logger: Logger,
  ) {}

  /** Links the (new, empty) room to its origin; closes it and rejects when that fails. */
  static async open(room: Room, origin: { id: string; url: string }, pass: string, address: MediaAddress, logger: Logger): Promise<EdgeRoom> {
    const edge = new EdgeRoom(room, origin.id, logger.child({ roomId: room.id, origin: origin.id }));
    try {
      await edge.#link(origin.url, pass, address);
    } catch (error) {
      edge.close();
      throw error;
    }
    return edge;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether a peer of this room is a stand-in for a stage member at the origin. */
  isStandIn(peer: Peer): boolean {
    return this.#stage.get(peer.id) === peer;
  }

  /** This node's own viewers in the room (everyone but the stand-ins). */
  get viewers(): number {
    let count = 0;
    for (const peer of this.room.peers.values()) if (!this.isStandIn(peer)) count += 1;
    return count;
  }

  /** Producers piped in from the origin (each once, whatever the number of viewers here). */
  get pipedProducers(): number {
    return this.#producers.size;
  }

  /** Ends the link; the room closes with it (its viewers are told the room moved, and rejoin). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket?.disconnect();
    this.#transport?.close();
    this.room.close('moved');
  }

  async #link(url: string, pass: string, address: MediaAddress): Promise<void> {
    const transport = await createSrtpPipe(this.room.routers.main, address);
    this.#transport = transport;
    const socket = io(url + EDGE_NAMESPACE, { transports: ['websocket'], reconnection: false, auth: { token: pass, roomId: this.room.id } });
    this.#socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', (error) => reject(new Error(`the webinar's origin refused this edge: ${error.message}`)));
    });
    const answer: unknown = await socket.timeout(OPEN_TIMEOUT_MS).emitWithAck('open', pipeEnd(transport));
    const reply = answer as { ok: boolean; data?: unknown; error?: string };
    const opened = openReplySchema.safeParse(reply.data);
    if (!reply.ok || !opened.success) throw new Error(`the webinar's origin did not open a pipe: ${reply.error ?? 'malformed answer'}`);
    await connectPipe(transport, opened.data);
    for (const { peer, producers } of opened.data.stage) {
      for (const producer of producers) await this.#addProducer(peer, producer);
      if (producers.length === 0) await this.#standIn(peer);
    }
    this.#on(socket, 'producer', ({ peer, producer }) => this.#addProducer(peer, producer));
    this.#on(socket, 'paused', async ({ producerId, paused }) => {
      const entry = this.#producers.get(producerId);
      if (entry) await this.room.setRemoteProducerPaused(entry.peer, entry.producer, paused);
    });
    this.#on(socket, 'producerClosed', async ({ producerId }) => this.#producers.get(producerId)?.producer.close());
    this.#on(socket, 'stageLeft', async ({ peerId }) => {
      const peer = this.#stage.get(peerId);
      if (!peer) return;
      this.#stage.delete(peerId);
      for (const entry of [...this.#producers.values()]) if (entry.peer === peer) entry.producer.close();
      this.room.removePeer(peer);
    });
    this.#on(socket, 'chat', async (message) => this.room.relayChat(message));
    this.#on(socket, 'audience', async ({ count }) => this.room.setRemoteAudience(Math.max(0, count - this.room.localAudienceCount)));
    // Messages this node's viewers post, and how many watch here, go to the origin (and so to every node).
    this.room.on('chatPosted', (message) => {
      const sender = this.room.peers.get(message.peerId);
      if (sender && !this.isStandIn(sender)) socket.emit('chat', message);
    });
    this.room.on('localAudience', (count) => socket.emit('audience', { count }));
    socket.once('disconnect', () => {
      if (!this.#closed) this.logger.warn('the link to the webinar origin dropped; its viewers here rejoin');
      this.close();
    });
    this.logger.info({ speakers: this.#stage.size, producers: this.#producers.size }, 'edge linked to the webinar origin');
  }

  /** Validates each piece of news before acting on it; a failure is logged, not thrown. */
  #on<K extends keyof EdgeNews>(socket: Socket, event: K, handle: (news: EdgeNews[K]) => Promise<unknown>): void {
    socket.on(event as string, (payload: unknown) => {
      const parsed = edgeNewsSchemas[event].safeParse(payload);
      if (!parsed.success) return void this.logger.warn({ event }, 'malformed news from the webinar origin');
      handle(parsed.data as EdgeNews[K]).catch((error: unknown) => this.logger.warn({ err: error, event }, 'cannot apply news from the webinar origin'));
    });
  }

  async #standIn(info: StagePeer): Promise<Peer> {
    const known = this.#stage.get(info.id);
    if (known && !known.closed) return known;
    const peer = await this.room.addPeer(info.displayName, NOWHERE, info.role, { id: info.id, resumeToken: randomBytes(24).toString('base64url') });
    peer.moveTo(this.room.routers.main); // its producers arrive on the main router's pipe
    this.#stage.set(info.id, peer);
    return peer;
  }

  async #addProducer(info: StagePeer, piped: PipedProducer): Promise<void> {
    if (this.#closed || !this.#transport || this.#producers.has(piped.id)) return;
    const peer = await this.#standIn(info);
    const producer = await this.#transport.produce<ProducerAppData>({
      id: piped.id,
      kind: piped.kind,
      rtpParameters: piped.rtpParameters as types.RtpParameters,
      paused: piped.paused,
      appData: { peerId: info.id, source: piped.source },
    });
    this.#producers.set(piped.id, { peer, producer });
    producer.observer.once('close', () => this.#producers.delete(piped.id));
    await this.room.addRemoteProducer(peer, producer);
  }
}
