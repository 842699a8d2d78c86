import { type Socket, io } from 'socket.io-client';
import type {
  ClientToServerEvents,
  ConsumerInfo,
  Reply,
  ReplyData,
  RequestName,
  RequestPayload,
  ServerToClientEvents,
} from '../../shared/index.ts';

type RawSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface ConnectOptions {
  /** Source address of the connection, e.g. 127.0.0.2. */
  localAddress?: string;
  /** Extra handshake headers, e.g. Origin or X-Forwarded-For. */
  headers?: Record<string, string>;
  /** Give up connecting after this long (Socket.IO's default is 20 s). */
  timeoutMs?: number;
}

/** A signaling client in the test process, speaking the same contract as the browser client. */
export class TestClient {
  readonly received: Array<{ event: keyof ServerToClientEvents; payload: unknown }> = [];

  private constructor(readonly socket: RawSocket) {
    socket.onAny((event: keyof ServerToClientEvents, payload: unknown) => this.received.push({ event, payload }));
  }

  /**
   * Connects, or rejects with the `connect_error` (a refusal carries `data.code`). `localAddress`
   * picks the source address (any of 127.0.0.0/8 on loopback); `headers` go with the handshake.
   */
  static async connect(url: string, options: ConnectOptions = {}): Promise<TestClient> {
    const socket: RawSocket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(options.headers ? { extraHeaders: options.headers } : {}),
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    } as Parameters<typeof io>[1]);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return new TestClient(socket);
  }

  /** Any event name and payload, as a modified client could send. */
  async raw(event: string, ...args: unknown[]): Promise<Reply<unknown>> {
    const timed = this.socket.timeout(5000) as unknown as { emitWithAck(e: string, ...a: unknown[]): Promise<Reply<unknown>> };
    return timed.emitWithAck(event, ...args);
  }

  async send<N extends RequestName>(name: N, payload: RequestPayload<N> | unknown): Promise<Reply<ReplyData[N]>> {
    return (await this.raw(name, payload)) as Reply<ReplyData[N]>;
  }

  /** Like send, but fails the test unless the reply is ok. */
  async ok<N extends RequestName>(name: N, payload: RequestPayload<N>): Promise<ReplyData[N]> {
    const reply = await this.send(name, payload);
    if (!reply.ok) throw new Error(`${name} failed: ${reply.error.code} ${reply.error.message}`);
    return reply.data;
  }

  events<E extends keyof ServerToClientEvents>(event: E): Parameters<ServerToClientEvents[E]>[0][] {
    return this.received.filter((r) => r.event === event).map((r) => r.payload as Parameters<ServerToClientEvents[E]>[0]);
  }

  async waitFor<E extends keyof ServerToClientEvents>(
    event: E,
    predicate: (payload: Parameters<ServerToClientEvents[E]>[0]) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<Parameters<ServerToClientEvents[E]>[0]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events(event).find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${event}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  consumersAdded(): ConsumerInfo[] {
    return this.events('consumerAdded').map((e) => e.consumer);
  }

  /** Leaves on purpose: the server removes the peer at once. */
  close(): void {
    this.socket.disconnect();
  }

  /** Drops the connection the way a network failure does (no goodbye): the server holds the place. */
  drop(): void {
    this.socket.io.engine.close();
    this.socket.io.reconnection(false);
  }
}
