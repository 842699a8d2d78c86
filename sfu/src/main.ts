import { ConfigError, loadConfig } from '../../config/index.ts';
import { createLogger } from './logger.ts';
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
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('roundtable: failed to start:', error);
  process.exit(1);
});
