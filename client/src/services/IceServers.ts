import type { types } from 'mediasoup-client';
import type { NetworkSettings } from '../../../shared/index.ts';

export interface IceOptions {
  iceServers: RTCIceServer[];
  iceTransportPolicy: RTCIceTransportPolicy;
}

/** Credentials are renewed when this much of their lifetime is left. */
const REFRESH_AT_REMAINING = 0.2;
const MIN_REFRESH_DELAY_MS = 30_000;

/**
 * The ICE servers this session's transports use: TURN with time-limited credentials from the server,
 * fresh on every (re)join and renewed before they expire, and the relay-only policy when the operator
 * (turn.relayOnly) or the person (`?relay=1`) asks for it.
 */
export class IceServers {
  #settings: NetworkSettings = { iceServers: [], iceTransportPolicy: 'all', iceServersExpireAt: null };
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly forceRelay: boolean,
    private readonly fetchFresh: () => Promise<NetworkSettings>,
    private readonly transports: () => types.Transport[],
  ) {}

  get options(): IceOptions {
    const relay = this.forceRelay || this.#settings.iceTransportPolicy === 'relay';
    return { iceServers: this.#settings.iceServers, iceTransportPolicy: relay ? 'relay' : 'all' };
  }

  /** New settings (a join reply or a refresh): live transports use them from their next ICE restart. */
  async apply(settings: NetworkSettings): Promise<void> {
    this.#settings = settings;
    if (this.forceRelay && !settings.iceServers.some((server) => server.urls.some((url) => url.startsWith('turn')))) {
      console.warn('relay-only was asked for, but this server hands out no TURN server: media cannot connect');
    }
    await Promise.all(this.transports().map((transport) => transport.updateIceServers({ iceServers: settings.iceServers })));
    this.#schedule();
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    this.close();
    const expireAt = this.#settings.iceServersExpireAt;
    if (expireAt === null) return;
    const delay = Math.max(MIN_REFRESH_DELAY_MS, (expireAt - Date.now()) * (1 - REFRESH_AT_REMAINING));
    this.#timer = setTimeout(() => {
      this.fetchFresh().then(
        (fresh) => this.apply(fresh),
        (error: unknown) => {
          console.warn('could not renew TURN credentials; retrying', error);
          this.#timer = setTimeout(() => this.#schedule(), MIN_REFRESH_DELAY_MS);
        },
      );
    }, Math.min(delay, 2_147_000_000));
  }
}
