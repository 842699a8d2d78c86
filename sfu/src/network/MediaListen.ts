import type { types } from 'mediasoup';
import type { Config } from '../../../config/index.ts';
import type { PooledRouter, WebRtcServerPlan, WorkerPool } from '../media/WorkerPool.ts';
import type { MediaAddress } from './media-address.ts';

/** Which ICE paths a transport offers; a pre-join probe asks for one at a time. */
export interface IcePaths {
  udp: boolean;
  tcp: boolean;
}

type ListenOptions = ({ webRtcServer: types.WebRtcServer } | { listenIps: types.TransportListenIp[] }) & {
  enableUdp: boolean;
  enableTcp: boolean;
  preferUdp: boolean;
};

/**
 * How WebRTC transports listen. Single-port mode: each worker has one WebRtcServer (one UDP and one
 * TCP port, worker i on basePort + i) that all its transports share, so a firewall opens a handful of
 * ports. Range mode: each transport binds its own port from minPort..maxPort.
 */
export class MediaListen {
  constructor(
    private readonly rtc: Config['rtc'],
    readonly address: MediaAddress,
  ) {}

  get singlePort(): boolean {
    return this.rtc.portMode === 'single';
  }

  /** What each worker's WebRtcServer listens on (for WorkerPool), or nothing in range mode. */
  readonly webRtcServerPlan: WebRtcServerPlan = (workerIndex) => {
    if (!this.singlePort) return undefined;
    const { listenIp, announcedIp } = this.address;
    const port = this.rtc.basePort === 0 ? undefined : this.rtc.basePort + workerIndex;
    const protocols = [...(this.rtc.enableUdp ? (['udp'] as const) : []), ...(this.rtc.enableTcp ? (['tcp'] as const) : [])];
    return {
      listenInfos: protocols.map((protocol) => ({ protocol, ip: listenIp, announcedAddress: announcedIp, ...(port ? { port } : {}) })),
    };
  };

  /** Listening options for a WebRTC transport on `router`; `paths` narrows them (probes). */
  transportOptions(pool: WorkerPool, router: PooledRouter, paths: Partial<IcePaths> = {}): ListenOptions {
    const enableUdp = this.rtc.enableUdp && (paths.udp ?? true);
    const enableTcp = this.rtc.enableTcp && (paths.tcp ?? true);
    const flags = { enableUdp, enableTcp, preferUdp: this.rtc.preferUdp && enableUdp };
    const webRtcServer = this.singlePort ? pool.webRtcServerOf(router.appData.workerIndex) : undefined;
    if (this.singlePort && !webRtcServer) throw new Error(`worker ${router.appData.workerIndex} has no WebRtcServer`);
    if (webRtcServer) return { webRtcServer, ...flags };
    return { listenIps: [{ ip: this.address.listenIp, announcedIp: this.address.announcedIp }], ...flags };
  }

  /** One line for the startup log: where browsers send media, on which ports. */
  async describe(pool: WorkerPool): Promise<string> {
    const { announcedIp, listenIp, origin } = this.address;
    const paths = [this.rtc.enableUdp && 'UDP', this.rtc.enableTcp && 'TCP'].filter(Boolean).join(' and ');
    if (!this.singlePort) {
      return `media on ${announcedIp} (${origin}; bound to ${listenIp}), ${paths}, one port per transport in ${this.rtc.minPort}-${this.rtc.maxPort}`;
    }
    const ports = (await pool.listeningPorts()).map((w) => [...new Set([...w.udp, ...w.tcp])].join('/')).join(', ');
    return `media on ${announcedIp} (${origin}; bound to ${listenIp}), ${paths}, one port per worker: ${ports}`;
  }
}
