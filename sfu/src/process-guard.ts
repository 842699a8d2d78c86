import type { Logger } from './logger.ts';

/** Uncaught exceptions in a burst this large mean the process is broken, not one request. */
const FATAL_EXCEPTIONS = { count: 10, withinMs: 60_000 };

/**
 * Last line of defence for errors no handler caught. Request handlers already turn throws into
 * INTERNAL_ERROR replies; what reaches here escaped from a listener, a timer or a callback. A lone
 * exception is logged with its stack and the server keeps serving: one faulty path must not end
 * every meeting, and the state it touched belongs to one room or peer. A burst (FATAL_EXCEPTIONS)
 * means something process-wide is broken: the server shuts down gracefully (clients are told to
 * rejoin) and exits non-zero, for the supervisor to restart it. Unhandled rejections are logged
 * and never fatal.
 */
export function guardProcess(logger: Logger, stopping: () => boolean, shutDown: () => void): void {
  let recent: number[] = [];
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection (a missing catch); serving on');
  });
  process.on('uncaughtException', (error, origin) => {
    const now = Date.now();
    recent = [...recent.filter((at) => now - at < FATAL_EXCEPTIONS.withinMs), now];
    const fatal = recent.length >= FATAL_EXCEPTIONS.count;
    logger.error({ err: error, origin, inLastMinute: recent.length }, fatal ? 'uncaught exceptions in a burst: shutting down' : 'uncaught exception; serving on');
    if (!fatal) return;
    if (stopping()) process.exit(1);
    process.exitCode = 1;
    shutDown();
  });
}
