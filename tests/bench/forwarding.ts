/**
 * Forwarding capacity of a Roundtable server, without browsers: one synthetic publisher (ffmpeg sending
 * VP8, optionally Opus, as plain RTP) and a ramp of synthetic receivers on PlainTransports, all on
 * 127.0.0.1. For each step it reports what reached the receivers, what was lost, and the CPU each
 * mediasoup worker used. See docs/benchmarks.md.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { version as mediasoupVersion } from 'mediasoup';
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
import { type StepResult, progressLine, resultColumns, stepJson } from './forwarding-report.ts';
import type { SnapshotSources } from './forwarding-sampler.ts';
import { type HoldResult, holdLoad } from './hold.ts';
import { machineInfo } from './machine.ts';
import { setUpStage, stageLine } from './synthetic-stage.ts';
import { ReceiverFleet } from './synthetic-receivers.ts';
import { tableHeader, tableRow } from './table.ts';

const TOOL = 'forwarding';

const USAGE = `Usage: node --import tsx tests/bench/forwarding.ts [options]

Ramps synthetic receivers of one ffmpeg-fed publisher and reports, per step, packets forwarded,
loss at the receivers and CPU per mediasoup worker, the benchmark's own process and the RTP sink
(a process of its own). Everything runs on 127.0.0.1.

  --workers N               mediasoup workers (default 1); receivers are split evenly over them
  --steps A,B,...           receivers at each step, increasing (default 100,250,500,1000,1500,2000)
  --duration S              seconds measured at each step (default 10)
  --warmup S                seconds after adding receivers before measuring (default 3)
  --audio                   also send Opus audio; each receiver then consumes both streams
  --video-kbps K            VP8 bitrate (default 1000)
  --size WxH                video size (default 1280x720)
  --fps N                   video frame rate (default 30)
  --receivers-per-socket N  receivers sharing one sink socket (default 100)
  --concurrency N           receivers set up in parallel (default 16)
${receiverUsage(28, 'receivers', true)}  -h, --help                this text

Progress goes to stderr; stdout gets one table row per step, then one line of JSON.
`;

interface Options {
  workers: number;
  steps: number[];
  durationSeconds: number;
  warmupSeconds: number;
  audio: boolean;
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
      workers: { type: 'string', default: '1' },
      steps: { type: 'string', default: '100,250,500,1000,1500,2000' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      audio: { type: 'boolean', default: false },
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
  return {
    workers: positiveInt('workers', values.workers),
    steps: increasingIntList('steps', values.steps),
    durationSeconds: positiveNumber('duration', values.duration),
    warmupSeconds: nonNegativeNumber('warmup', values.warmup),
    audio: values.audio,
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
}


async function main(signal: AbortSignal): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    process.stdout.write(USAGE);
    return 0;
  }
  const ffmpegVersion = requireFfmpeg(options.audio);
  const maxReceivers = options.steps[options.steps.length - 1]!;
  const cleanup = new Cleanup(TOOL);
  const results: StepResult[] = [];

  try {
    const plannedSeconds = options.steps.length * (options.warmupSeconds + options.durationSeconds + 60) + 60;
    const stage = await setUpStage(
      {
        tool: TOOL,
        roomPrefix: 'bench-forwarding',
        noun: 'receivers',
        workers: options.workers,
        sink: options.sink,
        maxReceivers: maxReceivers,
        receiversPerSocket: options.receiversPerSocket,
        audio: options.audio,
        keyframeRequests: false,
        clip: { width: options.width, height: options.height, fps: options.fps, videoKbps: options.videoKbps },
        plannedSeconds: plannedSeconds,
      },
      cleanup,
      signal,
    );
    if (!stage) return 130;
    const { sink, sfu, rooms, publisher: publisher, producerIds, ffmpeg, healthy } = stage;

    const fleet = new ReceiverFleet(
      rooms.map((room) => ({ router: room.router, producerIds })),
      sink,
      srtpSuiteOf(options.srtp),
      undefined,
      options.bwe,
    );
    cleanup.add('the receivers', () => fleet.close());
    const sources: SnapshotSources = { pool: sfu.server.pool, sink, producers: publisher.producers, ffmpegPid: ffmpeg.pid };

    progress(TOOL, stageLine(stage, options.workers, ffmpegVersion, `VP8 ${options.width}x${options.height}@${options.fps} ${options.videoKbps} kbps${options.audio ? ' + Opus' : ''}${options.bwe ? '; receivers declare BWE' : ''}`, options.srtp));

    /** Holds the current load for `seconds`, printing a progress line each second; undefined if interrupted. */
    const hold = (seconds: number, phase: string): Promise<HoldResult | undefined> =>
      holdLoad(sources, seconds, signal, healthy, (tick, ticks, rates) =>
        progress(TOOL, progressLine(`${phase} ${tick}/${ticks} s`, fleet.receivers, rates)),
      );

    const columns = resultColumns();
    process.stdout.write(`${tableHeader(columns)}\n`);
    for (const [index, target] of options.steps.entries()) {
      progress(TOOL, `step ${index + 1}/${options.steps.length}: ${target} receivers`);
      let lastReport = performance.now();
      await fleet.growTo(target, options.concurrency, signal, (done) => {
        if (performance.now() - lastReport < 1000) return;
        lastReport = performance.now();
        progress(TOOL, `adding receivers ${done}/${target}`);
      });
      if (signal.aborted) break;
      healthy();
      if (options.warmupSeconds > 0 && !(await hold(options.warmupSeconds, 'warm-up'))) break;
      const measured = await hold(options.durationSeconds, 'measure');
      if (!measured) break;
      const result: StepResult = {
        ...measured.rates,
        receivers: fleet.receivers,
        consumersPerWorker: measured.last.loads.map((load) => load.consumers),
        producersPerWorker: measured.last.loads.map((load) => load.producers),
      };
      results.push(result);
      process.stdout.write(`${tableRow(columns, result)}\n`);
    }

    const summary = {
      tool: TOOL,
      date: new Date().toISOString(),
      interrupted: signal.aborted,
      machine: { ...machineInfo(), mediasoup: mediasoupVersion, ffmpeg: ffmpegVersion },
      options,
      sinkReceiveBufferBytes: sink.receiveBufferBytes,
      steps: results.map(stepJson),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return signal.aborted ? 130 : 0;
  } finally {
    await cleanup.run();
  }
}

await runTool(TOOL, USAGE, main);
