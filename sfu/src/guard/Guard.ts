import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'socket.io';
import type { Config } from '../../../config/index.ts';
import type { ErrorCode } from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { RoomRegistry } from '../rooms/RoomRegistry.ts';
import { AddressLimits } from './AddressLimits.ts';
import { clientAddress, limitKey } from './client-address.ts';
import { originAllowed } from './origin.ts';

const SWEEP_INTERVAL_MS = 60_000;
/** Refusals are logged as warnings at most this often per kind, so a flood cannot flood the log. */
const WARN_INTERVAL_MS = 60_000;

const TOO_MANY_ROOMS_MESSAGE = 'too many new meetings from your network; wait a minute';
const FOREIGN_ORIGIN_HINT =
  'signaling refused to a page of another origin; if it is your own site behind a proxy, forward the Host header or list the origin in signaling.allowedOrigins';

/** What Socket.IO's handshake carries that the guard reads. */
type Handshake = Pick<Socket['handshake'], 'address' | 'headers'>;
/** The part of a Socket.IO socket the connection check uses. */
interface ConnectingSocket {
  readonly handshake: Handshake;
  /** The engine connection: its close fires even when the namespace connect never completes. */
  readonly conn: { once(event: 'close', listener: () => void): unknown };
}

/** A connection refusal the client sees in `connect_error`: `err.message`, and `err.data.code`. */
class ConnectionRefused extends Error {
  readonly data: { code: ErrorCode };
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.data = { code };
  }
}

/**
 * The server's abuse limits, in front of the signaling handlers: who may open a signaling
 * connection (origin, connections per address), and who may open a room (the server-wide room cap,
 * joins and room creations per address a minute).
 */
export class Guard {
  readonly #limits: AddressLimits;
  /** Joins that will open a room and have not finished: they count against the cap already. */
  #roomsOpening = 0;
  #warnedForwardedFor = false;
  readonly #lastWarning = new Map<ErrorCode, number>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(
    private readonly config: Config,
    private readonly registry: RoomRegistry,
    private readonly logger: Logger,
    /** Cluster mode: pages served by the other nodes may open signaling here too. */
    private readonly isNodeOrigin: (origin: string) => boolean = () => false,
  ) {
    this.#limits = new AddressLimits(config.limits);
    this.#sweeper = setInterval(() => this.#limits.sweep(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  /** The key this connection's per-address limits count under. */
  addressOf(handshake: Handshake): string {
    const forwardedFor = handshake.headers['x-forwarded-for'];
    if (forwardedFor !== undefined && this.config.http.trustProxy === 0 && !this.#warnedForwardedFor) {
      this.#warnedForwardedFor = true;
      this.logger.warn(
        'X-Forwarded-For ignored: behind a reverse proxy, set http.trustProxy (ROUNDTABLE_TRUST_PROXY), or every client shares the proxy\'s address for the per-address limits',
      );
    }
    return limitKey(clientAddress(handshake.address, forwardedFor, this.config.http.trustProxy));
  }

  /** Socket.IO middleware (`io.use`): refuses a foreign Origin and an address's connection past its share. */
  readonly admitConnection = (socket: ConnectingSocket, next: (error?: Error) => void): void => {
    const { headers } = socket.handshake;
    const { origin } = headers;
    const allowed = originAllowed(origin, this.#hostsOf(headers), this.config.signaling.allowedOrigins) || (origin !== undefined && this.isNodeOrigin(origin));
    if (!allowed) {
      this.#warn('ORIGIN_NOT_ALLOWED', { origin: headers.origin, host: headers.host }, FOREIGN_ORIGIN_HINT);
      next(new ConnectionRefused('ORIGIN_NOT_ALLOWED', 'this page\'s origin may not use this server'));
      return;
    }
    const address = this.addressOf(socket.handshake);
    if (!this.#limits.openConnection(address)) {
      this.#warn('TOO_MANY_CONNECTIONS', { address }, 'connection refused: too many from one address (limits.connectionsPerAddress)');
      next(new ConnectionRefused('TOO_MANY_CONNECTIONS', 'too many connections from your network'));
      return;
    }
    socket.conn.once('close', () => this.#limits.closeConnection(address));
    next();
  };

  /**
   * Before a join: refuses it past the server's room cap (when it opens a room) or past the
   * address's joins or room creations a minute. Returns what the caller calls once the join has
   * finished, either way, to hand the room slot it held back to the count of open rooms.
   */
  admitJoin(address: string, roomId: string): () => void {
    const existing = this.registry.get(roomId);
    const createsRoom = !existing || existing.closed;
    if (createsRoom && this.registry.size + this.#roomsOpening >= this.config.rooms.maxRooms) {
      this.#warn('SERVER_FULL', { rooms: this.registry.size }, 'new room refused: the server holds rooms.maxRooms rooms');
      throw new SignalingError('SERVER_FULL', 'this server has as many meetings as it can hold; try again later');
    }
    const refused = this.#limits.admitJoin(address, createsRoom);
    if (refused) {
      this.#warn(refused, { address }, `join refused: ${refused === 'TOO_MANY_ROOMS' ? 'limits.roomCreationsPerMinute' : 'limits.joinsPerMinute'} reached by one address`);
      throw new SignalingError(refused, refused === 'TOO_MANY_ROOMS' ? TOO_MANY_ROOMS_MESSAGE : 'too many joins from your network; wait a minute');
    }
    if (!createsRoom) return () => {};
    this.#roomsOpening += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#roomsOpening -= 1;
    };
  }

  /** Before a new meeting or webinar (with links): it counts as a room creation of the address. */
  admitRoomCreation(address: string): void {
    if (!this.#limits.admitRoomCreation(address)) {
      this.#warn('TOO_MANY_ROOMS', { address }, 'new room refused: limits.roomCreationsPerMinute reached by one address');
      throw new SignalingError('TOO_MANY_ROOMS', TOO_MANY_ROOMS_MESSAGE);
    }
  }

  close(): void {
    clearInterval(this.#sweeper);
  }

  #warn(kind: ErrorCode, details: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if (now - (this.#lastWarning.get(kind) ?? -Infinity) < WARN_INTERVAL_MS) {
      this.logger.debug(details, message);
      return;
    }
    this.#lastWarning.set(kind, now);
    this.logger.warn(details, message);
  }

  /** Host names the server is reached under: Host, and behind trusted proxies the nearest X-Forwarded-Host. */
  #hostsOf(headers: IncomingHttpHeaders): string[] {
    const hosts = headers.host ? [headers.host] : [];
    const forwardedHost = headers['x-forwarded-host'];
    if (this.config.http.trustProxy > 0 && forwardedHost) {
      const last = [forwardedHost].flat().join(',').split(',').at(-1)?.trim();
      if (last) hosts.push(last);
    }
    return hosts;
  }
}
