import { type Socket, io } from 'socket.io-client';
import {
  type ClientToServerEvents,
  type ErrorCode,
  type Redirect,
  type ReplyData,
  type RequestName,
  type RequestPayload,
  SIGNALING_PATH,
  type ServerToClientEvents,
} from '../../../shared/index.ts';

export type SignalingSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A refused request, with the server's stable code; 'TIMEOUT' when no reply came. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly code: ErrorCode | 'TIMEOUT' | 'DISCONNECTED',
    message: string,
    /** WRONG_NODE (cluster mode): the node that serves the room, and a pass for the join there. */
    readonly redirect?: Redirect,
  ) {
    super(message);
  }
}

export const REQUEST_TIMEOUT_MS = 10_000;

export function connectSignaling(url = window.location.origin): SignalingSocket {
  return io(url, { path: SIGNALING_PATH, transports: ['websocket'], reconnection: true, timeout: 8_000 });
}

/**
 * Points the socket's connection at another node (cluster mode). Socket.IO's Manager opens every
 * connection, the first and each reconnection, to its `uri`; the socket object, with its listeners,
 * stays the same. socket.io-client 4 keeps `uri` as a plain property (TypeScript calls it private).
 */
export function retarget(socket: SignalingSocket, url: string): void {
  (socket.io as unknown as { uri: string }).uri = url;
}

/** Sends a request and resolves with its data, or rejects with a RequestError. */
export async function request<N extends RequestName>(
  socket: SignalingSocket,
  name: N,
  payload: RequestPayload<N>,
  options: { timeoutMs?: number } = {},
): Promise<ReplyData[N]> {
  if (!socket.connected) throw new RequestError('DISCONNECTED', 'not connected to the server');
  let reply;
  try {
    // The mapped event type makes TypeScript lose the link between name and payload here.
    const timed = socket.timeout(options.timeoutMs ?? REQUEST_TIMEOUT_MS) as unknown as {
      emitWithAck(event: string, payload: unknown): Promise<unknown>;
    };
    reply = (await timed.emitWithAck(name, payload)) as
      | { ok: true; data: ReplyData[N] }
      | { ok: false; error: { code: ErrorCode; message: string; redirect?: Redirect } };
  } catch {
    // Socket.IO fails pending acknowledgements when the connection drops.
    if (!socket.connected) throw new RequestError('DISCONNECTED', `the connection dropped before ${name} was answered`);
    throw new RequestError('TIMEOUT', `no reply to ${name}`);
  }
  if (!reply.ok) throw new RequestError(reply.error.code, reply.error.message, reply.error.redirect);
  return reply.data;
}

/** Runs requests over a short-lived connection (creating a room before anyone is in it). */
export async function withConnection<T>(run: (socket: SignalingSocket) => Promise<T>): Promise<T> {
  const socket = connectSignaling();
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', () => reject(new Error('The Roundtable server cannot be reached.')));
    });
    return await run(socket);
  } finally {
    socket.disconnect();
  }
}
