import type { types } from 'mediasoup';
import type { Config } from '../../../config/index.ts';
import {
  type ConnectivityProbe,
  PROBE_LIFETIME_MS,
  PROBE_PATHS,
  type ProbePath,
} from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { PooledRouter, WorkerPool } from '../media/WorkerPool.ts';
import type { IcePaths, MediaListen } from './MediaListen.ts';
import { transportInfo } from './transport-info.ts';
import { networkSettingsFor } from './turn-credentials.ts';

/** One check per connection at most this often: each makes up to three transports. */
const MIN_INTERVAL_MS = 5_000;
/** TURN credentials for a probe live no longer than the probe needs them. */
const PROBE_TURN_TTL_SECONDS = 60;

const PATH_FLAGS: Record<ProbePath, IcePaths> = {
  udp: { udp: true, tcp: false },
  tcp: { udp: false, tcp: true },
  relay: { udp: true, tcp: true },
};

/**
 * The router probe transports live on: one per server, on a worker chosen like a room's, made on
 * first use and made again if its worker died. It carries no media, only data-channel handshakes.
 */
export class ProbeRouter {
  #router: Promise<PooledRouter> | undefined;

  constructor(private readonly pool: WorkerPool) {}

  get(): Promise<PooledRouter> {
    if (!this.#router) {
      const pending = this.pool.createRouter([]);
      this.#router = pending;
      pending.then(
        (router) => router.observer.once('close', () => {
          if (this.#router === pending) this.#router = undefined;
        }),
        () => {
          if (this.#router === pending) this.#router = undefined;
        },
      );
    }
    return this.#router;
  }
}

/**
 * A connection's pre-join check: one transport per path the server offers (UDP only, TCP only, and
 * through TURN), each opened by the browser with a data channel. The browser then reads which paths
 * connected. Transports close after PROBE_LIFETIME_MS, on a new check, on join and on disconnect.
 */
export class ConnectivityProbeSession {
  readonly #transports = new Map<ProbePath, types.WebRtcTransport>();
  #timer: NodeJS.Timeout | undefined;
  #lastStartedAt = -Infinity;

  constructor(
    private readonly probeRouter: ProbeRouter,
    private readonly pool: WorkerPool,
    private readonly listen: MediaListen,
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly clientId: string,
  ) {}

  /** `relay: false` leaves the TURN path (and its credentials) out, as the access policy decided. */
  async start(options: { relay: boolean }): Promise<ConnectivityProbe> {
    const now = Date.now();
    if (now - this.#lastStartedAt < MIN_INTERVAL_MS) {
      throw new SignalingError('RATE_LIMITED', `one connectivity check per ${MIN_INTERVAL_MS / 1000} s`);
    }
    this.#lastStartedAt = now;
    this.close();
    const router = await this.probeRouter.get();
    const turn = networkSettingsFor(this.config.turn, `probe-${this.clientId}`, { ttlSeconds: PROBE_TURN_TTL_SECONDS });
    const network = options.relay ? turn : { ...turn, iceServers: turn.iceServers.filter((server) => server.urls.every((url) => !url.startsWith('turn'))) };
    const hasRelay = options.relay && turn.iceServers.some((server) => server.urls.some((url) => url.startsWith('turn')));
    const offered = PROBE_PATHS.filter(
      (path) => (path === 'udp' ? this.config.rtc.enableUdp : path === 'tcp' ? this.config.rtc.enableTcp : hasRelay),
    );
    const transports: ConnectivityProbe['transports'] = {};
    for (const path of offered) {
      const transport = await router.createWebRtcTransport({
        ...this.listen.transportOptions(this.pool, router, PATH_FLAGS[path]),
        enableSctp: true,
        appData: { probe: path },
      });
      this.#transports.set(path, transport);
      transports[path] = transportInfo(transport, 'send');
    }
    this.#timer = setTimeout(() => this.close(), PROBE_LIFETIME_MS);
    this.#timer.unref();
    this.logger.debug({ paths: offered }, 'connectivity probe started');
    return {
      routerRtpCapabilities: router.rtpCapabilities as ConnectivityProbe['routerRtpCapabilities'],
      transports,
      iceServers: network.iceServers,
      relayOnly: network.iceTransportPolicy === 'relay',
      expiresInMs: PROBE_LIFETIME_MS,
    };
  }

  async connect(path: ProbePath, dtlsParameters: types.DtlsParameters): Promise<void> {
    const transport = this.#transports.get(path);
    if (!transport || transport.closed) throw new SignalingError('TRANSPORT_NOT_FOUND', `no ${path} probe; start a check first`);
    try {
      await transport.connect({ dtlsParameters });
    } catch (error) {
      throw new SignalingError('INVALID_DTLS_PARAMETERS', (error as Error).message);
    }
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const transport of this.#transports.values()) transport.close();
    this.#transports.clear();
  }
}
