import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../config/index.ts';
import { type RoundtableServer, createRoundtableServer } from '../../sfu/src/server.ts';

export interface TestServer {
  server: RoundtableServer;
  url: string;
  close(): Promise<void>;
}

type Overrides = Parameters<typeof loadConfig>[1];

/**
 * A real Roundtable server (real mediasoup worker, real Socket.IO) on a free loopback port. Its room
 * store lives in a fresh temporary data directory, removed on close, unless `store` is overridden
 * (then the caller owns the directory: restart tests reuse one).
 */
export async function startTestServer(overrides: Overrides = {}): Promise<TestServer> {
  const tempDataDir = overrides.store === undefined ? mkdtempSync(path.join(os.tmpdir(), 'roundtable-test-data-')) : undefined;
  const removeTempDataDir = () => {
    if (tempDataDir) rmSync(tempDataDir, { recursive: true, force: true });
  };
  try {
    const config = loadConfig(
      {},
      {
        http: { host: '127.0.0.1', port: 0, staticDir: '' },
        workers: { count: 1 },
        // Loopback media, on ports the system picks: test files run in parallel, and test traffic stays
        // on this machine. Tests of other addresses run the server in a network namespace.
        rtc: { listenIp: '127.0.0.1', basePort: 0 },
        ...(tempDataDir ? { store: { dataDir: tempDataDir } } : {}),
        ...overrides,
      },
    );
    const server = await createRoundtableServer(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
    const url = await server.listen();
    return {
      server,
      url,
      close: async () => {
        await server.close();
        removeTempDataDir();
      },
    };
  } catch (error) {
    removeTempDataDir();
    throw error;
  }
}

/** Transport/producer/consumer counts as the worker processes themselves report them. */
export async function workerCounts(server: RoundtableServer) {
  const loads = server.pool.loads();
  return {
    routers: loads.reduce((n, l) => n + l.routers, 0),
    transports: loads.reduce((n, l) => n + l.transports, 0),
    producers: loads.reduce((n, l) => n + l.producers, 0),
    consumers: loads.reduce((n, l) => n + l.consumers, 0),
    dumpedRouters: (await server.pool.dump()).reduce((n, dump) => n + dump.routerIds.length, 0),
  };
}
