import { ConfigError, loadConfig } from '../../config/index.ts';
import { createLogger } from './logger.ts';
import { guardProcess } from './process-guard.ts';
import { createRoundtableServer } from './server.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`roundtable: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const server = await createRoundtableServer(config, logger);
  const url = await server.listen();
  const { listen } = server.network;
  logger.info({ announcedIp: listen.address.announcedIp, listenIp: listen.address.listenIp }, await listen.describe(server.pool));
  for (const warning of listen.address.warnings) logger.warn(warning);
  if (config.turn.urls.length) logger.info({ urls: config.turn.urls, relayOnly: config.turn.relayOnly }, 'TURN servers handed to clients');
  logger.info({ url, workers: server.pool.size }, `Roundtable is ready at ${url.replace('127.0.0.1', 'localhost')}`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals | 'uncaught exceptions') => {
    if (stopping) {
      logger.warn({ signal, ...server.shutdownState() }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    const { deadlineMs } = config.shutdown;
    logger.info({ signal, deadlineMs }, 'shutting down: restart notice to clients, then closing');
    const deadline = setTimeout(() => {
      const state = server.shutdownState();
      logger.error(state, `shutdown deadline (shutdown.deadlineMs = ${deadlineMs} ms) passed while ${state.step}: ${state.connections} signaling connections and ${state.rooms} rooms still open`);
      process.exit(1);
    }, deadlineMs);
    server.shutdown().then(
      () => {
        clearTimeout(deadline);
        logger.info('shut down');
        process.exit(process.exitCode ?? 0); // 1 after a burst of uncaught exceptions
      },
      (error: unknown) => {
        logger.error({ err: error, ...server.shutdownState() }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  guardProcess(logger, () => stopping, () => stop('uncaught exceptions'));
}

main().catch((error: unknown) => {
  // Errors an operator fixes in the configuration or the environment: the message says which key.
  if (error instanceof Error && ['StoreError', 'ClusterStoreUnreachable'].includes(error.name)) {
    console.error(`roundtable: failed to start: ${error.message}`);
    process.exit(1);
  }
  console.error('roundtable: failed to start:', error);
  process.exit(1);
});
