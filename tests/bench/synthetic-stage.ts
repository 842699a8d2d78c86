/**
 * What the synthetic benchmarks share: a sink for receivers, a server with a room per worker, one
 * ffmpeg-fed publisher piped to every room, and a health check that stops a run whose numbers would
 * mean nothing (ffmpeg gone, a worker dead, the sink process or one of its sockets failing).
 */
import type { TestServer } from '../helpers/server.ts';
import { startBenchServer } from './bench-server.ts';
import { type BenchRoom, pipeProducers, roomPerWorker } from './bench-rooms.ts';
import type { Cleanup } from './cleanup.ts';
import { type SinkKind, type SrtpChoice, ToolError, describeSrtp } from './cli.ts';
import { FfmpegSource } from './ffmpeg-source.ts';
import type { RtpSink } from './rtp-sink.ts';
import { type SyntheticPublisher, createPublisher, waitForIngress } from './synthetic-publisher.ts';

const INGRESS_TIMEOUT_MS = 10_000;

export interface StageOptions {
  tool: string;
  roomPrefix: string;
  /** What the receivers are called in messages: "receivers", "viewers". */
  noun: string;
  workers: number;
  /** Where the sink counts (--sink). */
  sink: SinkKind;
  maxReceivers: number;
  receiversPerSocket: number;
  audio: boolean;
  /** Declare PLI/FIR like a browser, so mediasoup asks the publisher for keyframes. */
  keyframeRequests: boolean;
  clip: { width: number; height: number; fps: number; videoKbps: number };
  /** ffmpeg stops by itself after this long, whatever happens to this process. */
  plannedSeconds: number;
}

export interface Stage {
  sink: RtpSink;
  sfu: TestServer;
  rooms: BenchRoom[];
  publisher: SyntheticPublisher;
  /** Video first, so a receiver's first frame is not delayed by setting up its audio. */
  producerIds: string[];
  ffmpeg: FfmpegSource;
  /** Throws when the run can no longer be trusted. */
  healthy(): void;
}

/** Sets everything up (registering each part with `cleanup`); undefined when interrupted. */
export async function setUpStage(options: StageOptions, cleanup: Cleanup, signal: AbortSignal): Promise<Stage | undefined> {
  const { sink, sfu, fatal } = await startBenchServer(
    {
      workers: options.workers,
      sink: options.sink,
      sinkSockets: Math.ceil(options.maxReceivers / options.receiversPerSocket),
      // Every receiver, the publisher's transports and each pipe hold one UDP port.
      portsNeeded: options.maxReceivers + 2 + 4 * (options.workers - 1),
      portsFor: `${options.maxReceivers} ${options.noun}`,
    },
    cleanup,
  );
  const rooms = await roomPerWorker(sfu.server, options.roomPrefix, options.tool);
  const publisher = await createPublisher(rooms[0]!.router, options.audio, { keyframeRequests: options.keyframeRequests });
  cleanup.add('the publisher', () => publisher.close());
  const video = publisher.producers.find((producer) => producer.kind === 'video');
  if (!video) throw new Error('the publisher has no video producer');
  const producerIds = [video, ...publisher.producers.filter((producer) => producer !== video)].map((producer) => producer.id);
  await pipeProducers(rooms, producerIds);

  const ffmpeg = FfmpegSource.start({
    video: publisher.video,
    ...(publisher.audio ? { audio: publisher.audio } : {}),
    width: options.clip.width,
    height: options.clip.height,
    fps: options.clip.fps,
    videoBitrate: options.clip.videoKbps * 1000,
    maxSeconds: Math.ceil(options.plannedSeconds),
  });
  cleanup.add('ffmpeg', () => ffmpeg.stop());
  const healthy = (): void => {
    const failure = ffmpeg.failure();
    if (failure) throw new ToolError(failure);
    const failed = fatal();
    if (failed) throw failed;
  };
  if (!(await waitForIngress(publisher.producers, INGRESS_TIMEOUT_MS, signal, healthy))) return undefined;
  return { sink, sfu, rooms, publisher, producerIds, ffmpeg, healthy };
}

/** The first progress line: which processes, what is being sent, and how the receivers get it. */
export function stageLine(stage: Stage, workers: number, ffmpegVersion: string, what: string, srtp: SrtpChoice): string {
  return (
    `${workers} worker(s) (pids ${stage.sfu.server.pool.loads().map((l) => l.pid).join(', ')}), ` +
    `rooms on workers ${stage.rooms.map((r) => r.workerIndex).join(', ')}; ${ffmpegVersion}; ${what}; ` +
    `${describeSrtp(srtp)}; ${stage.sink.kind} sink (pids ${stage.sink.pids.join(', ')}), receive buffer ${stage.sink.receiveBufferBytes} bytes per socket`
  );
}
