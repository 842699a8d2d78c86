import type { Config } from '../../../config/index.ts';
import type { NetworkSettings } from '../../../shared/index.ts';
import type { Logger } from '../logger.ts';
import type { PooledRouter, WorkerPool } from '../media/WorkerPool.ts';
import { ConnectivityProbeSession, ProbeRouter } from './ConnectivityProbe.ts';
import type { IcePaths, MediaListen } from './MediaListen.ts';
import { networkSettingsFor } from './turn-credentials.ts';

/**
 * How clients reach the SFU: where transports listen, the ICE servers (TURN credentials) each client
 * is handed, and pre-join connectivity probes. Rooms ask it for transport options; signaling asks it
 * for credentials and probes.
 */
export class Network {
  readonly #probeRouter: ProbeRouter;

  constructor(
    readonly listen: MediaListen,
    private readonly pool: WorkerPool,
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    this.#probeRouter = new ProbeRouter(pool);
  }

  transportOptions(router: PooledRouter, paths?: Partial<IcePaths>) {
    return this.listen.transportOptions(this.pool, router, paths);
  }

  /** Fresh ICE servers for a room member: TURN credentials bound to its peer id, valid for turn.ttlSeconds. */
  settingsFor(peerId: string): NetworkSettings {
    return networkSettingsFor(this.config.turn, peerId);
  }

  probeSession(clientId: string): ConnectivityProbeSession {
    return new ConnectivityProbeSession(this.#probeRouter, this.pool, this.listen, this.config, this.logger, clientId);
  }
}
