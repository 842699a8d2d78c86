import type { MediaSession } from './MediaSession.ts';

/** How long to keep rejoining when the restart notice names no window (an older server). */
export const DEFAULT_REJOIN_WINDOW_MS = 120_000;
/** Between rejoin attempts that reached the server but were refused: doubling, up to the max. */
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 10_000;

export const RESTART_GAVE_UP = 'The server restarted and did not take the meeting back in time. Rejoin when it is available again.';

/**
 * A server restart as this client lives through it. The server's notice (`roomClosed`, reason
 * `shutdown`) comes just before it drops the connection. From then on the session's own reconnection
 * does the work: Socket.IO reconnects with its backoff while the server is down, and each new
 * connection rejoins the same room with the same name, link key or token and the stored resume
 * credentials (so stored hosts and co-hosts come back as hosts), then publishes local media again.
 * This bounds that in time (the server's `rejoinWithinMs`) and spaces out rejoins that reach a server
 * but are refused. Plain class, not reactive: the store is told through the callback.
 */
export class RestartRejoin {
  #giveUpTimer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = FIRST_RETRY_MS;

  constructor(
    private readonly session: MediaSession,
    private readonly onGiveUp: () => void,
  ) {
    session.socket.on('roomClosed', ({ reason, rejoinWithinMs }) => {
      if (reason === 'shutdown') this.#begin(rejoinWithinMs ?? DEFAULT_REJOIN_WINDOW_MS);
    });
    session.socket.on('connect', () => {
      if (!this.active) return;
      // If this connection's rejoin is refused, the next connection waits longer.
      session.socket.io.reconnectionDelay(this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    });
  }

  /** A restart is under way and its window is still open. */
  get active(): boolean {
    return this.#giveUpTimer !== undefined;
  }

  /** The session is back in the room. */
  rejoined(): void {
    if (!this.active) return;
    this.close();
    this.session.socket.io.reconnectionDelay(FIRST_RETRY_MS);
    this.#retryMs = FIRST_RETRY_MS;
  }

  close(): void {
    clearTimeout(this.#giveUpTimer);
    this.#giveUpTimer = undefined;
  }

  #begin(windowMs: number): void {
    if (this.active) return;
    this.#giveUpTimer = setTimeout(() => {
      this.#giveUpTimer = undefined;
      this.onGiveUp();
    }, windowMs);
  }
}
