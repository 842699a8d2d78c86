/**
 * A webinar on one Roundtable server, without browsers: one synthetic speaker (ffmpeg sending VP8 and
 * Opus as plain RTP) and synthetic viewers on PlainTransports, spread over the workers, all on
 * 127.0.0.1. First a join storm (time to first frame, keyframe requests reaching the speaker), then a
 * ramp of viewers (forwarding, loss and CPU per step). See docs/benchmarks.md.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { version as mediasoupVersion } from 'mediasoup';
import {
  type RampStep,
  capacity,
  capacityLine,
  rampColumns,
  rampProgressLine,
  rampStepJson,
  stormColumns,
  stormJson,
  stormRow,
} from './broadcast-report.ts';
import { FirstFrameTimer, type StormPlan, runJoinStorm } from './broadcast-storm.ts';
import { Cleanup } from './cleanup.ts';
import {
  DEFAULT_SINK,
  DEFAULT_SRTP,
  type SinkKind,
  type SrtpChoice,
  ToolError,
  UsageError,
  frameSize,
  increasingIntList,
  nonNegativeNumber,
  positiveInt,
  positiveNumber,
  progress,
  runTool,
  sinkKind,
  receiverUsage,
  srtpChoice,
  srtpSuiteOf,
} from './cli.ts';
import { requireFfmpeg } from './ffmpeg-source.ts';
import type { SnapshotSources } from './forwarding-sampler.ts';
import { type HoldResult, holdLoad } from './hold.ts';
import { machineInfo } from './machine.ts';
import { setUpStage, stageLine } from './synthetic-stage.ts';
import { ReceiverFleet } from './synthetic-receivers.ts';
import { table, tableHeader, tableRow } from './table.ts';

const TOOL = 'broadcast';

const USAGE = `Usage: node --import tsx tests/bench/broadcast.ts [options]

One speaker (ffmpeg-fed VP8 + Opus) to many synthetic viewers, each consuming audio and video, spread
evenly over the workers. Phase 1, a join storm: time to first frame per viewer and the keyframe
requests that reach the speaker. Phase 2, a ramp: packets forwarded, loss and CPU per worker at each
step. The RTP sink runs in its own process, its CPU shown apart. Everything runs on 127.0.0.1.

  --workers N               mediasoup workers (default 2); viewers are split evenly over them
  --storm N                 viewers joining in the storm (default 100)
  --storm-seconds S         the storm's viewers start evenly spaced over S seconds (default 10)
  --steps A,B,...           viewers at each ramp step, increasing, the first >= --storm
                            (default 250,500,750,1000,1250,1500)
  --duration S              seconds measured at each step (default 10)
  --warmup S                seconds after adding viewers before measuring (default 3)
  --video-kbps K            VP8 bitrate (default 1000)
  --size WxH                video size (default 1280x720)
  --fps N                   video frame rate (default 30)
  --receivers-per-socket N  viewers sharing one sink socket (default 100)
  --concurrency N           viewers set up in parallel during the ramp (default 16)
${receiverUsage(28, 'viewers', true)}  -h, --help                this text

Progress goes to stderr; stdout gets the storm table, one ramp row per step, the capacity line, then
one line of JSON.
`;

interface Options {
  workers: number;
  storm: number;
  stormSeconds: number;
  steps: number[];
  durationSeconds: number;
  warmupSeconds: number;
  videoKbps: number;
  width: number;
  height: number;
  fps: number;
  receiversPerSocket: number;
  concurrency: number;
  srtp: SrtpChoice;
  /** Where the receivers' packets are counted (--sink). */
  sink: SinkKind;
  /** Receivers declare bandwidth estimation (transport-cc, REMB). */
  bwe: boolean;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      workers: { type: 'string', default: '2' },
      storm: { type: 'string', default: '100' },
      'storm-seconds': { type: 'string', default: '10' },
      steps: { type: 'string', default: '250,500,750,1000,1250,1500' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      'video-kbps': { type: 'string', default: '1000' },
      size: { type: 'string', default: '1280x720' },
      fps: { type: 'string', default: '30' },
      'receivers-per-socket': { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '16' },
      srtp: { type: 'string', default: DEFAULT_SRTP },
      sink: { type: 'string', default: DEFAULT_SINK },
      bwe: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const { width, height } = frameSize('size', values.size);
  const options: Options = {
    workers: positiveInt('workers', values.workers),
    storm: positiveInt('storm', values.storm),
    stormSeconds: positiveNumber('storm-seconds', values['storm-seconds']),
    steps: increasingIntList('steps', values.steps),
    durationSeconds: positiveNumber('duration', values.duration),
    warmupSeconds: nonNegativeNumber('warmup', values.warmup),
    videoKbps: positiveInt('video-kbps', values['video-kbps']),
    width,
    height,
    fps: positiveInt('fps', values.fps),
    receiversPerSocket: positiveInt('receivers-per-socket', values['receivers-per-socket']),
    concurrency: positiveInt('concurrency', values.concurrency),
    srtp: srtpChoice('srtp', values.srtp),
    sink: sinkKind('sink', values.sink),
    bwe: values.bwe,
  };
  // The storm's viewers stay for the ramp, which only ever adds.
  if (options.steps[0]! < options.storm) {
    throw new UsageError(`--steps must start at --storm (${options.storm}) or above (got ${options.steps[0]})`);
  }
  return options;
}

/** The clip has a keyframe every second, so a viewer without one after this long never gets one. */
const FIRST_FRAME_TIMEOUT_MS = 10_000;

async function main(signal: AbortSignal): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    process.stdout.write(USAGE);
    return 0;
  }
  const ffmpegVersion = requireFfmpeg(true);
  const maxViewers = options.steps[options.steps.length - 1]!;
  const cleanup = new Cleanup(TOOL);
  const steps: RampStep[] = [];

  try {
    const stormSeconds = options.stormSeconds + FIRST_FRAME_TIMEOUT_MS / 1000 + 60;
    const plannedSeconds = stormSeconds + options.steps.length * (options.warmupSeconds + options.durationSeconds + 60) + 60;
    const stage = await setUpStage(
      {
        tool: TOOL,
        roomPrefix: 'bench-broadcast',
        noun: 'viewers',
        workers: options.workers,
        sink: options.sink,
        maxReceivers: maxViewers,
        receiversPerSocket: options.receiversPerSocket,
        audio: true,
        keyframeRequests: true,
        clip: { width: options.width, height: options.height, fps: options.fps, videoKbps: options.videoKbps },
        plannedSeconds: plannedSeconds,
      },
      cleanup,
      signal,
    );
    if (!stage) return 130;
    const { sink, sfu, rooms, publisher: speaker, producerIds, ffmpeg, healthy } = stage;
    const video = speaker.producers.find((producer) => producer.kind === 'video')!;

    const timer = new FirstFrameTimer(sink);
    const fleet = new ReceiverFleet(
      rooms.map((room) => ({ router: room.router, producerIds })),
      sink,
      srtpSuiteOf(options.srtp),
      timer.observe,
      options.bwe,
    );
    cleanup.add('the viewers', () => fleet.close());
    const sources: SnapshotSources = { pool: sfu.server.pool, sink, producers: speaker.producers, ffmpegPid: ffmpeg.pid };

    progress(TOOL, stageLine(stage, options.workers, ffmpegVersion, `VP8 ${options.width}x${options.height}@${options.fps} ${options.videoKbps} kbps + Opus${options.bwe ? '; viewers declare BWE' : ''}`, options.srtp));

    // Phase 1: the join storm.
    const plan: StormPlan = { viewers: options.storm, seconds: options.stormSeconds, firstFrameTimeoutMs: FIRST_FRAME_TIMEOUT_MS };
    progress(TOOL, `join storm: ${plan.viewers} viewers over ${plan.seconds} s`);
    const storm = await runJoinStorm(plan, {
      fleet,
      timer,
      sources,
      video,
      signal,
      healthy,
      onProgress: (line) => progress(TOOL, line),
    });
    const stormSummary = storm && stormRow(storm);
    if (storm && stormSummary) {
      if (stormSummary.firstFrames < storm.viewers) {
        progress(TOOL, `${storm.viewers - stormSummary.firstFrames} viewer(s) had no keyframe within ${FIRST_FRAME_TIMEOUT_MS / 1000} s`);
      }
      process.stdout.write(`join storm\n${table(stormColumns, [stormSummary])}\n\nramp\n`);
    }

    // Phase 2: the ramp, unless the storm was interrupted.
    const columns = rampColumns();
    const hold = (seconds: number, phase: string): Promise<HoldResult | undefined> =>
      holdLoad(sources, seconds, signal, healthy, (tick, ticks, rates) =>
        progress(TOOL, rampProgressLine(`${phase} ${tick}/${ticks} s`, fleet.receivers, rates)),
      );
    if (storm) process.stdout.write(`${tableHeader(columns)}\n`);
    for (const [index, target] of (storm ? options.steps : []).entries()) {
      progress(TOOL, `step ${index + 1}/${options.steps.length}: ${target} viewers`);
      let lastReport = performance.now();
      await fleet.growTo(target, options.concurrency, signal, (done) => {
        if (performance.now() - lastReport < 1000) return;
        lastReport = performance.now();
        progress(TOOL, `adding viewers ${done}/${target}`);
      });
      if (signal.aborted) break;
      healthy();
      if (options.warmupSeconds > 0 && !(await hold(options.warmupSeconds, 'warm-up'))) break;
      const measured = await hold(options.durationSeconds, 'measure');
      if (!measured) break;
      const step: RampStep = {
        ...measured.rates,
        viewers: fleet.receivers,
        consumersPerViewer: producerIds.length,
        consumersPerWorker: measured.last.loads.map((load) => load.consumers),
        producersPerWorker: measured.last.loads.map((load) => load.producers),
      };
      steps.push(step);
      process.stdout.write(`${tableRow(columns, step)}\n`);
    }

    const limits = capacity(steps);
    if (storm) process.stdout.write(`\n${capacityLine(limits, steps.length, options.steps.length)}\n`);
    const summary = {
      tool: TOOL,
      date: new Date().toISOString(),
      interrupted: signal.aborted,
      machine: { ...machineInfo(), mediasoup: mediasoupVersion, ffmpeg: ffmpegVersion },
      options,
      sinkReceiveBufferBytes: sink.receiveBufferBytes,
      storm: storm && stormSummary ? stormJson(plan, storm, stormSummary) : null,
      steps: steps.map(rampStepJson),
      maxViewersWithinLimits: limits.maxViewers,
      firstStepOverLimits: limits.firstFailure ?? null,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return signal.aborted ? 130 : 0;
  } finally {
    await cleanup.run();
  }
}

await runTool(TOOL, USAGE, main);
