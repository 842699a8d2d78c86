/**
 * A synthetic meeting for the layouts benchmark: a server with one room, every participant publishing
 * a three-layer simulcast camera fed by its own ffmpeg, and a sink socket per participant for what it
 * receives. Registers each part with the cleanup, and stops a run whose numbers would mean nothing.
 */
import { performance } from 'node:perf_hooks';
import type { types } from 'mediasoup';
import type { TestServer } from '../helpers/server.ts';
import { startBenchServer } from './bench-server.ts';
import type { Cleanup } from './cleanup.ts';
import { type SinkKind, ToolError, progress, sleep } from './cli.ts';
import type { FfmpegSource } from './ffmpeg-source.ts';
import type { RtpSink } from './rtp-sink.ts';
import { type SimulcastPublisher, allLayersFlowing, createSimulcastPublisher, layerCounters } from './simulcast-publisher.ts';
import { SIMULCAST_LAYERS, encodeLayerClips, startSimulcastSource } from './simulcast-source.ts';

/** ffmpeg needs a moment per process to start; 25 of them on 2 cores take a few seconds. */
const INGRESS_TIMEOUT_MS = 20_000;

export interface MeetingOptions {
  tool: string;
  participants: number;
  workers: number;
  /** Where the sink counts (--sink). */
  sink: SinkKind;
  /** ffmpeg stops by itself after this long, whatever happens to this process. */
  plannedSeconds: number;
}

export interface Meeting {
  sink: RtpSink;
  sfu: TestServer;
  router: types.Router;
  workerIndex: number;
  publishers: SimulcastPublisher[];
  ffmpegs: FfmpegSource[];
  /** Throws when the run can no longer be trusted. */
  healthy(): void;
}

/** Sets the meeting up; undefined when interrupted. */
export async function setUpMeeting(options: MeetingOptions, cleanup: Cleanup, signal: AbortSignal): Promise<Meeting | undefined> {
  progress(options.tool, `encoding the ${SIMULCAST_LAYERS.length} layer clips (once; cached in the temp folder)`);
  const clips = encodeLayerClips();

  const { sink, sfu, fatal } = await startBenchServer(
    {
      workers: options.workers,
      sinkSockets: options.participants,
      sink: options.sink,
      // A publisher's transport and a receiver's transport per participant, each one UDP port.
      portsNeeded: 2 * options.participants,
      portsFor: `${options.participants} participants`,
    },
    cleanup,
  );
  const room = await sfu.server.registry.getOrCreate('bench-layouts', 'meeting');
  const router = room.routers.main;

  const publishers: SimulcastPublisher[] = [];
  cleanup.add('the publishers', () => publishers.forEach((publisher) => publisher.transport.close()));
  for (let index = 0; index < options.participants; index++) {
    publishers.push(await createSimulcastPublisher(router, index, SIMULCAST_LAYERS.length));
  }

  // Each ffmpeg adds a process 'exit' listener that kills it should this process die abruptly; one per
  // participant is expected, not a leak.
  process.setMaxListeners(process.getMaxListeners() + options.participants);
  const ffmpegs: FfmpegSource[] = [];
  // One step for all of them, stopped together: one by one, 25 could take up to 2 s each.
  cleanup.add('ffmpeg', async () => {
    await Promise.all(ffmpegs.map((ffmpeg) => ffmpeg.stop()));
  });
  for (const publisher of publishers) {
    if (signal.aborted) return undefined;
    ffmpegs.push(await startSimulcastSource(clips, publisher.target, Math.ceil(options.plannedSeconds)));
  }

  const healthy = (): void => {
    for (const [index, ffmpeg] of ffmpegs.entries()) {
      const failure = ffmpeg.failure();
      if (failure) throw new ToolError(`participant ${index}: ${failure}`);
    }
    const failed = fatal();
    if (failed) throw failed;
  };

  const deadline = performance.now() + INGRESS_TIMEOUT_MS;
  while (!allLayersFlowing(await layerCounters(publishers))) {
    if (signal.aborted) return undefined;
    healthy();
    if (performance.now() > deadline) {
      throw new ToolError(`not every layer of every publisher received RTP from ffmpeg within ${INGRESS_TIMEOUT_MS / 1000} s`);
    }
    await sleep(200, signal);
  }
  return { sink, sfu, router, workerIndex: router.appData.workerIndex, publishers, ffmpegs, healthy };
}
