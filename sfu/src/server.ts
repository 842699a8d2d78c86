import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { Server } from 'socket.io';
import { SIGNALING_PATH } from '../../shared/index.ts';
import type { Config } from '../../config/index.ts';
import { fileFoldersParent, removeStaleFileFolders } from './files/FileStore.ts';
import { Guard } from './guard/Guard.ts';
import { createMetrics } from './http/metrics.ts';
import { type RequestHandler, adminOperations, publicOperations } from './http/operations.ts';
import { recordingsHandler } from './http/recordings.ts';
import { staticHandler } from './http/static.ts';
import type { Logger } from './logger.ts';
import { WorkerPool } from './media/WorkerPool.ts';
import { resolveMediaAddress } from './network/media-address.ts';
import { MediaListen } from './network/MediaListen.ts';
import { Network } from './network/Network.ts';
import { type RoomPlacement, singleNode } from './rooms/placement.ts';
import { RoomRegistry } from './rooms/RoomRegistry.ts';
import { Recordings } from './recording/Recordings.ts';
import { Access } from './access/Access.ts';
import { RoomDirectory } from './access/RoomDirectory.ts';
import { type SignalingServer, attachSignaling } from './signaling/connection.ts';

export interface RoundtableServer {
  readonly config: Config;
  readonly pool: WorkerPool;
  readonly registry: RoomRegistry;
  readonly network: Network;
  readonly io: SignalingServer;
  /** Cluster mode only: this node's id and the rooms it holds leases for. */
  readonly cluster: { nodeId: string; held(): ReadonlyMap<string, number> } | undefined;
  /**
   * Starts listening, on the main port and on the admin port; resolves with the main base URL
   * (port 0 picks a free port).
   */
  listen(): Promise<string>;
  /** The admin listener's base URL (/metrics, detailed /healthz), once `listen()` has resolved. */
  adminUrl(): string;
  /**
   * SIGTERM/SIGINT: stops taking connections and joins (joins in flight get SHUTTING_DOWN), tells
   * everyone in a room that the server restarts and how long to keep rejoining, lets those notices
   * reach the clients, then closes rooms, workers and the room store.
   */
  shutdown(): Promise<void>;
  /** What a shutdown still waits for, for the log line when its deadline passes. */
  shutdownState(): { step: string; connections: number; rooms: number };
  /** Closes at once, without the restart notice (tests, failed start-up). */
  close(): Promise<void>;
}

/** Above the per-request limit, so oversized requests get an error reply rather than a dropped socket. */
const SOCKET_BUFFER_BYTES = 1024 * 1024;
const LOAD_LOG_INTERVAL_MS = 60_000;
/** How long a shutdown waits for the restart notices to be written before dropping the connections. */
const NOTICE_DRAIN_MS = 2_000;
const SHUTTING_DOWN = { ok: false, error: { code: 'SHUTTING_DOWN', message: 'the server is restarting; try again in a moment' } } as const;

export async function createRoundtableServer(config: Config, logger: Logger): Promise<RoundtableServer> {
  // First: a data directory that cannot be used stops the server before any worker starts.
  const directory = RoomDirectory.open(config, logger.child({ component: 'store' }));
  const access = new Access(directory, config.access);
  // Shared files of rooms a killed server never closed; a live server's are left alone.
  removeStaleFileFolders(fileFoldersParent(config.files.dir), logger.child({ component: 'files' }));
  const listen = new MediaListen(config.rtc, resolveMediaAddress(config.rtc));
  const pool = await WorkerPool.create(config, logger, listen.webRtcServerPlan);
  const network = new Network(listen, pool, config, logger.child({ component: 'network' }));
  const recordings = new Recordings(config.recording, logger.child({ component: 'recording' }), { baseUrl: config.cluster.publicUrl ?? '' });
  const registry = new RoomRegistry(directory, pool, network, config, logger.child({ component: 'rooms' }), recordings);
  pool.on('workerDied', (index) => logger.warn({ worker: index, rooms: registry.size }, 'a media worker died: replacing it, and moving its rooms and peers to live workers'));
  const metrics = createMetrics(pool, registry);
  const loadLog = setInterval(() => {
    if (registry.size > 0) logger.info({ rooms: registry.size, workers: pool.loads() }, 'worker load');
  }, LOAD_LOG_INTERVAL_MS);
  loadLog.unref();

  // Cluster mode, loaded only when configured: the single-node path never imports it.
  const cluster = config.cluster.redisUrl
    ? await (await import('./cluster/Cluster.ts')).Cluster.start({
        config,
        logger: logger.child({ component: 'cluster' }),
        directory,
        registry,
        address: listen.address,
        load: () => registry.peerCount(),
        // Another node serves the room now: its people are told, and their clients join it there.
        onRoomLost: (roomId) => registry.get(roomId)?.close('moved'),
      }).catch((error: unknown) => {
        pool.close();
        directory.close();
        throw error;
      })
    : undefined;
  const placement: RoomPlacement = cluster ?? singleNode;
  if (cluster) {
    registry.on('roomCreated', (room) => cluster.attach(room));
    registry.on('roomClosed', (roomId) => cluster.released(roomId));
  }

  const guard = new Guard(config, registry, logger.child({ component: 'guard' }), cluster && ((origin) => cluster.isNodeOrigin(origin)));

  const serve = (handlers: RequestHandler[]) => (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void (async () => {
      for (const handler of handlers) if (await handler(req, res)) return;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
    })().catch((error: unknown) => {
      logger.error({ err: error, url: req.url }, 'http request failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
  const onRequest = serve([
    publicOperations(metrics, config.admin.metricsToken),
    recordingsHandler(recordings, directory),
    ...(config.http.staticDir ? [staticHandler(config.http.staticDir)] : []),
  ]);
  const adminServer = http.createServer(
    serve([
      adminOperations(metrics, () => ({
        status: 'ok',
        rooms: registry.size,
        workers: pool.loads(),
        ...(cluster ? { cluster: cluster.state() } : {}),
      })),
    ]),
  );
  let adminUrl: string | undefined;

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
  io.use(guard.admitConnection);
  let shutdownStep: string | undefined;
  /** Joins sent but not answered yet: a shutdown answers them before it closes their connections. */
  let joinsInFlight = 0;
  io.on('connection', (socket) => {
    // A connection accepted just before the listener closed: dropped, so the client's own
    // reconnection (with its backoff) finds the next process.
    if (shutdownStep) return void socket.conn.close();
    socket.use((packet, next) => {
      const ack: unknown = packet[packet.length - 1];
      if (packet[0] !== 'join' || typeof ack !== 'function') return next();
      if (shutdownStep) return void ack(SHUTTING_DOWN);
      // A join still in flight when the shutdown starts gets the same answer, whatever it became.
      joinsInFlight += 1;
      let answered = false;
      const settle = () => {
        if (!answered) joinsInFlight -= 1;
        answered = true;
      };
      socket.once('disconnect', settle);
      packet[packet.length - 1] = (reply: unknown) => {
        settle();
        ack(shutdownStep ? SHUTTING_DOWN : reply);
      };
      next();
    });
  });
  attachSignaling(io, { registry, access, network, placement, guard, config, logger });
  cluster?.serveEdges(io);

  const closeEverything = async () => {
    clearInterval(loadLog);
    guard.close();
    registry.closeAll();
    await recordings.close(); // recorders finish their files (index, duration) before the process ends
    await cluster?.stop();
    adminServer.close();
    adminServer.closeAllConnections();
    await new Promise<void>((resolve) => io.close(() => resolve()));
    pool.close();
    directory.close();
  };
  let shuttingDown: Promise<void> | undefined;
  const shutdown = async () => {
    shutdownStep = 'sending the restart notice';
    httpServer.close(); // no new connections; the open ones are closed below
    const notice = { reason: 'shutdown', rejoinWithinMs: config.shutdown.rejoinWindowMs } as const;
    for (const room of registry.rooms()) {
      for (const peer of room.peers.values()) peer.notify('roomClosed', notice);
      room.close(); // without a reason: the notice above, with the rejoin window, is theirs
    }
    shutdownStep = 'answering joins in flight';
    const drained = Date.now() + Math.min(NOTICE_DRAIN_MS, config.shutdown.deadlineMs / 2);
    // Lobby waits and router creation end with the rooms; their replies are written before the close.
    while (joinsInFlight > 0 && Date.now() < drained) await new Promise((resolve) => setTimeout(resolve, 10));
    shutdownStep = 'draining signaling connections';
    // Closed without discarding what is queued, so the notices arrive; the clients see a transport
    // close, which their Socket.IO reconnection answers with its backoff.
    for (const socket of io.sockets.sockets.values()) socket.conn.close();
    while (io.engine.clientsCount > 0 && Date.now() < drained) await new Promise((resolve) => setTimeout(resolve, 20));
    if (io.engine.clientsCount > 0) logger.warn({ connections: io.engine.clientsCount }, 'signaling connections still open after the notice; dropping them');
    shutdownStep = 'closing rooms, workers and the room store';
    await closeEverything();
    shutdownStep = 'done';
  };

  return {
    config,
    pool,
    registry,
    network,
    io,
    cluster,
    listen: async () => {
      const url = await listenOn(httpServer, config.http.host, config.http.port, tlsCert ? 'https' : 'http');
      try {
        adminUrl = await listenOn(adminServer, config.admin.host, config.admin.port, 'http');
      } catch (error) {
        httpServer.close();
        const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        throw new Error(`cannot listen on the admin address ${config.admin.host}:${config.admin.port} (admin.host, admin.port): ${reason}`);
      }
      logger.info({ adminUrl }, `admin endpoints (/metrics, /healthz) at ${adminUrl}`);
      return url;
    },
    adminUrl: () => {
      if (!adminUrl) throw new Error('the server is not listening yet');
      return adminUrl;
    },
    shutdown: () => (shuttingDown ??= shutdown()),
    shutdownState: () => ({ step: shutdownStep ?? 'not started', connections: io.engine.clientsCount, rooms: registry.size }),
    close: closeEverything,
  };
}

function listenOn(server: NetServer, host: string, port: number, scheme: 'http' | 'https'): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const { port: bound } = server.address() as AddressInfo;
      resolve(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${bound}`);
    });
  });
}
