import { randomUUID } from 'node:crypto';
import { LOBBY_MAX_WAITING, type LobbyEntry } from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';
import { TypedEmitter } from '../typed-emitter.ts';

/** Nobody waits longer than this: the join fails with LOBBY_DENIED. */
export const LOBBY_MAX_WAIT_MS = 10 * 60 * 1000;
/** How often waiters are checked for a closed connection or an expired wait. */
const SWEEP_INTERVAL_MS = 500;

/** The joiner's connection, as far as the lobby needs it. */
export interface Knocker {
  isConnected(): boolean;
}

interface Waiter {
  entry: LobbyEntry;
  knocker: Knocker;
  admit(): void;
  refuse(error: SignalingError): void;
}

type LobbyEvents = {
  /** Who waits now; after every change. */
  change: [waiting: LobbyEntry[]];
  /** Someone left the queue without being admitted (denied, disconnected, timed out, meeting ended). */
  gaveUp: [];
};

/**
 * A meeting's waiting room: each joiner's join request stays pending here until a host admits or
 * denies them. It belongs to the room, not to a host's connection, so it survives a host reconnecting.
 * One sweep timer, running only while someone waits, notices closed connections and expired waits.
 */
export class Lobby extends TypedEmitter<LobbyEvents> {
  readonly #waiters = new Map<string, Waiter>();
  #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  get size(): number {
    return this.#waiters.size;
  }

  entries(): LobbyEntry[] {
    return [...this.#waiters.values()].map(({ entry }) => ({ ...entry }));
  }

  /** Fails at once with LOBBY_FULL when the queue is full; call before telling the joiner they wait. */
  checkRoom(): void {
    if (this.#closed) throw new SignalingError('LOBBY_DENIED', 'the meeting has ended');
    if (this.#waiters.size >= LOBBY_MAX_WAITING) {
      throw new SignalingError('LOBBY_FULL', `too many people are waiting to be let in (${LOBBY_MAX_WAITING})`);
    }
  }

  /** Queues the joiner; resolves when a host admits them, rejects when they are not let in. */
  wait(displayName: string, knocker: Knocker): Promise<void> {
    this.checkRoom();
    const entry: LobbyEntry = { id: randomUUID(), displayName, since: this.now() };
    return new Promise<void>((resolve, reject) => {
      this.#waiters.set(entry.id, { entry, knocker, admit: resolve, refuse: reject });
      this.#sweepTimer ??= setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
      this.#changed();
    });
  }

  /** Admits the given entries (unknown ids are ignored); returns how many were admitted. */
  admit(ids: string[] | 'all'): number {
    const waiters = this.#take(ids);
    for (const waiter of waiters) waiter.admit();
    if (waiters.length > 0) this.#changed();
    return waiters.length;
  }

  /** Refuses the given entries with LOBBY_DENIED; returns how many were denied. */
  deny(ids: string[] | 'all', message = 'A host declined to let you in'): number {
    const waiters = this.#take(ids);
    for (const waiter of waiters) waiter.refuse(new SignalingError('LOBBY_DENIED', message));
    if (waiters.length > 0) this.#gaveUp();
    return waiters.length;
  }

  /** The meeting ended: everyone waiting is refused. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    for (const waiter of this.#take('all')) waiter.refuse(new SignalingError('LOBBY_DENIED', 'the meeting has ended'));
    this.#closed = true;
    this.#stopSweep();
    this.removeAllListeners();
  }

  #take(ids: string[] | 'all'): Waiter[] {
    const keys = ids === 'all' ? [...this.#waiters.keys()] : ids;
    const taken: Waiter[] = [];
    for (const id of keys) {
      const waiter = this.#waiters.get(id);
      if (!waiter) continue;
      this.#waiters.delete(id);
      taken.push(waiter);
    }
    if (this.#waiters.size === 0) this.#stopSweep();
    return taken;
  }

  #sweep(): void {
    const expiredBefore = this.now() - LOBBY_MAX_WAIT_MS;
    const gone: string[] = [];
    const expired: string[] = [];
    for (const { entry, knocker } of this.#waiters.values()) {
      if (!knocker.isConnected()) gone.push(entry.id);
      else if (entry.since <= expiredBefore) expired.push(entry.id);
    }
    // The closed connection gets no reply; the rejection only settles its pending join.
    for (const waiter of this.#take(gone)) waiter.refuse(new SignalingError('NOT_JOINED', 'disconnected while waiting'));
    for (const waiter of this.#take(expired)) {
      waiter.refuse(new SignalingError('LOBBY_DENIED', 'nobody let you in; try again later'));
    }
    if (gone.length + expired.length > 0) this.#gaveUp();
  }

  #changed(): void {
    this.emit('change', this.entries());
  }

  #gaveUp(): void {
    this.#changed();
    this.emit('gaveUp');
  }

  #stopSweep(): void {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }
}
