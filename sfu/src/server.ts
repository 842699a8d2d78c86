import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { SIGNALING_PATH } from '../../shared/index.ts';
import type { Config } from '../../config/index.ts';
import { createMetrics } from './http/metrics.ts';
import { staticHandler } from './http/static.ts';
import type { Logger } from './logger.ts';
import { WorkerPool } from './media/WorkerPool.ts';
import { resolveMediaAddress } from './network/media-address.ts';
import { MediaListen } from './network/MediaListen.ts';
import { Network } from './network/Network.ts';
import { RoomRegistry } from './rooms/RoomRegistry.ts';
import { WebinarDirectory } from './rooms/WebinarDirectory.ts';
import { type SignalingServer, attachSignaling } from './signaling/connection.ts';

export interface RoundtableServer {
  readonly config: Config;
  readonly pool: WorkerPool;
  readonly registry: RoomRegistry;
  readonly network: Network;
  readonly io: SignalingServer;
  /** Starts listening; resolves with the base URL (port 0 picks a free port). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** Above the per-request limit, so oversized requests get an error reply rather than a dropped socket. */
const SOCKET_BUFFER_BYTES = 1024 * 1024;
const LOAD_LOG_INTERVAL_MS = 60_000;

export async function createRoundtableServer(config: Config, logger: Logger): Promise<RoundtableServer> {
  const listen = new MediaListen(config.rtc, resolveMediaAddress(config.rtc));
  const pool = await WorkerPool.create(config, logger, listen.webRtcServerPlan);
  const network = new Network(listen, pool, config, logger.child({ component: 'network' }));
  const registry = new RoomRegistry(new WebinarDirectory(), pool, network, config, logger.child({ component: 'rooms' }));
  pool.on('workerDied', () => logger.warn({ rooms: registry.size }, 'rooms on the dead worker were closed'));
  const metrics = createMetrics(pool, registry);
  const loadLog = setInterval(() => {
    if (registry.size > 0) logger.info({ rooms: registry.size, workers: pool.loads() }, 'worker load');
  }, LOAD_LOG_INTERVAL_MS);
  loadLog.unref();

  const serveStatic = config.http.staticDir ? staticHandler(config.http.staticDir) : undefined;
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void (async () => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ status: 'ok', rooms: registry.size, workers: pool.loads() }));
        return;
      }
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
        res.end(await metrics.metrics());
        return;
      }
      if (serveStatic && (await serveStatic(req, res))) return;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
    })().catch((error: unknown) => {
      logger.error({ err: error, url: req.url }, 'http request failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };

  const { tlsCert, tlsKey } = config.http;
  const httpServer =
    tlsCert && tlsKey
      ? https.createServer({ cert: readFileSync(tlsCert), key: readFileSync(tlsKey) }, onRequest)
      : http.createServer(onRequest);
  const io: SignalingServer = new Server(httpServer, {
    path: SIGNALING_PATH,
    maxHttpBufferSize: SOCKET_BUFFER_BYTES,
    serveClient: false,
  });
  attachSignaling(io, registry, network, config, logger);

  return {
    config,
    pool,
    registry,
    network,
    io,
    listen: () =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.http.port, config.http.host, () => {
          const { port } = httpServer.address() as AddressInfo;
          const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
          resolve(`${tlsCert ? 'https' : 'http'}://${host}:${port}`);
        });
      }),
    close: async () => {
      clearInterval(loadLog);
      registry.closeAll();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      pool.close();
    },
  };
}
