/**
 * The server side every synthetic benchmark starts from: a loopback RTP sink for the receivers (in its
 * own process), an in-process Roundtable server, and a record of anything that makes further numbers
 * meaningless (the sink process dying or a socket of it failing, a worker dying: the pool replaces it,
 * but its rooms are gone).
 */
import { type TestServer, startTestServer } from '../helpers/server.ts';
import type { Cleanup } from './cleanup.ts';
import { DEFAULT_SINK, type SinkKind, ToolError, UsageError } from './cli.ts';
import { RtpSink } from './rtp-sink.ts';

/** Asks for 8 MiB per sink socket; the kernel grants up to net.core.rmem_max (x2). */
const SINK_RECEIVE_BUFFER = 8 * 1024 * 1024;

export interface BenchServer {
  sink: RtpSink;
  sfu: TestServer;
  /** The first failure seen so far, if any. */
  fatal(): Error | undefined;
}

export async function startBenchServer(
  options: {
    workers: number;
    sinkSockets: number;
    /** Where the sink counts: the native core or Node (--sink); default native. */
    sink?: SinkKind;
    /** UDP ports the run will take from the server's RTC range, and what needs them (for the error). */
    portsNeeded: number;
    portsFor: string;
  },
  cleanup: Cleanup,
): Promise<BenchServer> {
  let fatal: Error | undefined;
  const sink = await RtpSink.open(
    options.sinkSockets,
    SINK_RECEIVE_BUFFER,
    (error) => {
      fatal ??= error;
    },
    options.sink ?? DEFAULT_SINK,
  );
  cleanup.add(`the RTP sink (pids ${sink.pids.join(', ')})`, () => sink.close());
  const sfu = await startTestServer({ workers: { count: options.workers } });
  cleanup.add('the server', () => sfu.close());
  sfu.server.pool.on('workerDied', (index, error) => {
    fatal ??= new ToolError(`mediasoup worker ${index} died (${error.message}); stopping`);
  });
  const { rtc } = sfu.server.config;
  if (options.portsNeeded > rtc.maxPort - rtc.minPort + 1) {
    throw new UsageError(`${options.portsFor} need more UDP ports than rtc ${rtc.minPort}-${rtc.maxPort} holds`);
  }
  return { sink, sfu, fatal: () => fatal };
}
