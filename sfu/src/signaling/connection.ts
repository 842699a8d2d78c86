import type { Server, Socket } from 'socket.io';
import {
  type ClientToServerEvents,
  type ErrorBody,
  LIMITS,
  type Reply,
  type RequestName,
  type RequestPayload,
  type ServerToClientEvents,
  requestSchemas,
} from '../../../shared/index.ts';
import type { Config } from '../../../config/index.ts';
import type { Access } from '../access/Access.ts';
import { SignalingError } from '../errors.ts';
import type { Guard } from '../guard/Guard.ts';
import type { Logger } from '../logger.ts';
import type { Network } from '../network/Network.ts';
import type { Notify } from '../rooms/Peer.ts';
import type { RoomPlacement } from '../rooms/placement.ts';
import type { RoomRegistry } from '../rooms/RoomRegistry.ts';
import { type HandlerContext, handlers } from './handlers.ts';
import { TokenBucket } from './TokenBucket.ts';

export type SignalingServer = Server<ClientToServerEvents, ServerToClientEvents>;
type SignalingSocket = Socket<ClientToServerEvents, ServerToClientEvents>;
type AnyAck = (reply: Reply<unknown>) => void;

const REQUEST_NAMES = Object.keys(requestSchemas) as RequestName[];

function payloadSize(payload: unknown): number {
  return payload === undefined ? 0 : Buffer.byteLength(JSON.stringify(payload) ?? '');
}

/** The one place where a thrown error becomes a failed reply. */
function toErrorBody(error: unknown, logger: Logger, request: string): ErrorBody {
  if (error instanceof SignalingError) {
    logger.debug({ request, code: error.code, msg: error.message }, 'request refused');
    return error.toBody();
  }
  logger.error({ request, err: error }, 'request failed unexpectedly');
  return { code: 'INTERNAL_ERROR', message: 'internal error' };
}

/** The server's long-lived parts that every connection works with. */
export interface SignalingServices {
  registry: RoomRegistry;
  access: Access;
  network: Network;
  placement: RoomPlacement;
  guard: Guard;
  config: Config;
  logger: Logger;
}

/** Wires one socket: validates, rate-limits and dispatches each request, and leaves on disconnect. */
export function attachConnection(socket: SignalingSocket, { registry, access, network, placement, guard, config, logger }: SignalingServices): void {
  const log = logger.child({ socketId: socket.id });
  const address = guard.addressOf(socket.handshake);
  const bucket = new TokenBucket(config.signaling.requestsPerSecond, config.signaling.requestBurst);
  const notify: Notify = (event, ...args) => {
    socket.emit(event, ...args);
  };
  const ctx: HandlerContext = {
    registry,
    access,
    network,
    placement,
    probe: network.probeSession(socket.id),
    notify,
    membership: undefined,
    joining: false,
    isConnected: () => socket.connected,
  };

  /** The guard's limits on requests that may open a room; returns what to call once the request is done. */
  function admit(name: RequestName, payload: unknown): (() => void) | undefined {
    if (ctx.membership) return undefined; // the handler refuses a second join before it makes anything
    if (name === 'join') return guard.admitJoin(address, (payload as RequestPayload<'join'>).roomId);
    if (name === 'createWebinar' || name === 'createMeeting') guard.admitRoomCreation(address);
    return undefined;
  }

  async function dispatch(name: RequestName, payload: unknown, ack: AnyAck): Promise<void> {
    let done: (() => void) | undefined;
    try {
      if (!bucket.take()) throw new SignalingError('RATE_LIMITED', 'too many requests; slow down');
      if (payloadSize(payload) > LIMITS.payloadMaxBytes) {
        throw new SignalingError('PAYLOAD_TOO_LARGE', `payload exceeds ${LIMITS.payloadMaxBytes} bytes`);
      }
      const parsed = requestSchemas[name].safeParse(payload);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
        throw new SignalingError('INVALID_PAYLOAD', `${name}: ${where}${issue?.message ?? 'invalid payload'}`);
      }
      done = admit(name, parsed.data);
      const handler = handlers[name] as (c: HandlerContext, p: unknown) => Promise<unknown>;
      ack({ ok: true, data: await handler(ctx, parsed.data) });
    } catch (error) {
      ack({ ok: false, error: toErrorBody(error, log, name) });
    } finally {
      done?.();
    }
  }

  const raw = socket as unknown as {
    on(event: string, listener: (...args: unknown[]) => void): void;
    onAny(listener: (event: string, ...args: unknown[]) => void): void;
  };
  for (const name of REQUEST_NAMES) {
    raw.on(name, (...args) => {
      const ack = args[args.length - 1];
      if (typeof ack !== 'function') {
        log.debug({ request: name }, 'request without acknowledgement ignored');
        return;
      }
      void dispatch(name, args.length > 1 ? args[0] : undefined, ack as AnyAck);
    });
  }
  raw.onAny((event, ...args) => {
    if (REQUEST_NAMES.includes(event as RequestName)) return;
    const ack = args[args.length - 1];
    if (typeof ack === 'function') {
      (ack as AnyAck)({ ok: false, error: { code: 'UNKNOWN_EVENT', message: `unknown request "${String(event).slice(0, 64)}"` } });
    }
  });

  socket.on('disconnect', (reason) => {
    const membership = ctx.membership;
    ctx.membership = undefined;
    ctx.probe.close();
    log.debug({ reason }, 'socket disconnected');
    if (!membership) return;
    // The client closed its socket on purpose (page closed, app left): leave now. Anything else
    // (ping timeout, transport error) may be a network blip: hold the place for the grace period.
    if (reason === 'client namespace disconnect') membership.room.removePeer(membership.peer);
    else membership.room.peerDisconnected(membership.peer);
  });
}

export function attachSignaling(io: SignalingServer, services: SignalingServices): void {
  const logger = services.logger.child({ component: 'signaling' });
  io.on('connection', (socket) => attachConnection(socket, { ...services, logger }));
}
