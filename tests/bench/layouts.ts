/**
 * What receiving only the shown layers saves: a meeting of synthetic participants, each publishing a
 * three-layer simulcast camera (ffmpeg streaming pre-encoded clips) and receiving everyone else, on one
 * server, all on 127.0.0.1. The same consumers are measured under three layouts one after the other:
 * everyone at the top layer (naive), a grid of thumbnails, and a speaker view with a filmstrip. See
 * docs/benchmarks.md.
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
  UsageError,
  describeSrtp,
  nonNegativeNumber,
  positiveInt,
  positiveNumber,
  progress,
  runTool,
  sinkKind,
  receiverUsage,
  sleep,
  srtpChoice,
  srtpSuiteOf,
} from './cli.ts';
import { requireFfmpeg } from './ffmpeg-source.ts';
import type { SnapshotSources } from './forwarding-sampler.ts';
import { type HoldResult, holdLoad } from './hold.ts';
import { demandMbitPerSecond, layerBitrates } from './layout-demand.ts';
import { LAYOUT_NAMES, type LayoutPlan, SCREEN, layoutPlan } from './layout-plans.ts';
import { MeetingReceivers } from './layout-receivers.ts';
import { type Meeting, setUpMeeting } from './layout-stage.ts';
import { type LayoutResult, mismatchLines, progressLine, resultColumns, resultJson } from './layouts-report.ts';
import { processCpuSeconds } from './linux-proc.ts';
import { machineInfo } from './machine.ts';
import { layerCounters } from './simulcast-publisher.ts';
import { CLIP_FPS, SIMULCAST_LAYERS } from './simulcast-source.ts';
import { round } from './statistics.ts';
import { tableHeader, tableRow } from './table.ts';

const TOOL = 'layouts';
const INGRESS_SAMPLE_SECONDS = 3;

const USAGE = `Usage: node --import tsx tests/bench/layouts.ts [options]

A meeting of synthetic participants, each sending a three-layer VP8 simulcast camera (one ffmpeg per
participant streaming pre-encoded clips) and receiving every other one. Measures the server's egress
under three layouts, one after the other: naive (everyone at the top layer), grid, and speaker view.
The RTP sink runs in its own process, its CPU shown apart. Everything runs on 127.0.0.1.

  --participants N   people in the meeting, at least 2 (default 25); each costs one ffmpeg process
  --workers N        mediasoup workers (default 1); the meeting lives on one of them
  --duration S       seconds measured per layout (default 10)
  --warmup S         seconds after the layers settle before measuring (default 4)
  --layer-wait S     longest wait for every consumer to reach its layer (default 5)
${receiverUsage(21, 'receivers', false)}  -h, --help         this text

Progress goes to stderr; stdout gets one table row per layout, then one line of JSON.
`;

interface Options {
  participants: number;
  workers: number;
  durationSeconds: number;
  warmupSeconds: number;
  layerWaitSeconds: number;
  srtp: SrtpChoice;
  /** Where the receivers' packets are counted (--sink). */
  sink: SinkKind;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      participants: { type: 'string', default: '25' },
      workers: { type: 'string', default: '1' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '4' },
      'layer-wait': { type: 'string', default: '5' },
      srtp: { type: 'string', default: DEFAULT_SRTP },
      sink: { type: 'string', default: DEFAULT_SINK },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const participants = positiveInt('participants', values.participants);
  if (participants < 2) throw new UsageError('--participants must be at least 2: a meeting of one receives nothing');
  return {
    participants,
    workers: positiveInt('workers', values.workers),
    durationSeconds: positiveNumber('duration', values.duration),
    warmupSeconds: nonNegativeNumber('warmup', values.warmup),
    layerWaitSeconds: positiveNumber('layer-wait', values['layer-wait']),
    srtp: srtpChoice('srtp', values.srtp),
    sink: sinkKind('sink', values.sink),
  };
}

/** CPU seconds all the ffmpeg processes have used so far (a finished one counts as nothing more). */
function ffmpegCpuSeconds(meeting: Meeting): number {
  return meeting.ffmpegs.reduce((sum, ffmpeg) => sum + (ffmpeg.pid === undefined ? 0 : (processCpuSeconds(ffmpeg.pid) ?? 0)), 0);
}

interface LayerIngress {
  kbps: number;
  packetsPerSecond: number;
}

/** What each layer carried per publisher over a few seconds: what the clips really cost. Undefined if interrupted. */
async function measureIngress(meeting: Meeting, signal: AbortSignal): Promise<LayerIngress[] | undefined> {
  const from = await layerCounters(meeting.publishers);
  const started = performance.now();
  await sleep(INGRESS_SAMPLE_SECONDS * 1000, signal);
  if (signal.aborted) return undefined;
  const to = await layerCounters(meeting.publishers);
  const elapsed = (performance.now() - started) / 1000;
  const bitrates = layerBitrates(from, to, elapsed);
  return SIMULCAST_LAYERS.map((_, layer) => ({
    kbps: bitrates.reduce((sum, perLayer) => sum + (perLayer[layer] ?? 0), 0) / bitrates.length / 1000,
    packetsPerSecond: to.reduce((sum, now, p) => sum + (now.packets[layer] ?? 0) - (from[p]?.packets[layer] ?? 0), 0) / to.length / elapsed,
  }));
}

function ingressLine(ingress: readonly LayerIngress[]): string {
  return ingress
    .map(({ kbps, packetsPerSecond }, layer) => {
      const { width, height } = SIMULCAST_LAYERS[layer]!;
      return `layer ${layer} (${width}x${height}) ${kbps.toFixed(0)} kbit/s ${packetsPerSecond.toFixed(0)} pkt/s`;
    })
    .join(', ');
}

async function main(signal: AbortSignal): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    process.stdout.write(USAGE);
    return 0;
  }
  const ffmpegVersion = requireFfmpeg(false);
  const cleanup = new Cleanup(TOOL);
  const results: LayoutResult[] = [];
  const mismatchReport: string[] = [];

  try {
    // Setup, then per layout the layer wait, warm-up and measurement, with a minute to spare each.
    const plannedSeconds =
      LAYOUT_NAMES.length * (options.layerWaitSeconds + options.warmupSeconds + options.durationSeconds + 60) + 120;
    const meeting = await setUpMeeting(
      { tool: TOOL, participants: options.participants, workers: options.workers, sink: options.sink, plannedSeconds },
      cleanup,
      signal,
    );
    if (!meeting) return 130;
    const { sink, sfu, publishers, healthy } = meeting;
    progress(
      TOOL,
      `${options.workers} worker(s) (pids ${sfu.server.pool.loads().map((l) => l.pid).join(', ')}), the meeting on worker ` +
        `${meeting.workerIndex}; ${ffmpegVersion}; ${options.participants} ffmpeg publishers; ${describeSrtp(options.srtp)}; ` +
        `${sink.kind} sink (pids ${sink.pids.join(', ')}), receive buffer ${sink.receiveBufferBytes} bytes per socket`,
    );
    const ingress = await measureIngress(meeting, signal);
    if (!ingress) return 130;
    progress(TOOL, `in per publisher: ${ingressLine(ingress)}`);

    let lastReport = performance.now();
    const receivers = await MeetingReceivers.create(
      meeting.router,
      publishers.map((publisher) => publisher.producer),
      sink,
      srtpSuiteOf(options.srtp),
      signal,
      (done) => {
        if (performance.now() - lastReport < 1000) return;
        lastReport = performance.now();
        progress(TOOL, `adding receivers ${done}/${options.participants}`);
      },
    );
    cleanup.add('the receivers', () => receivers.close());
    if (signal.aborted) return 130;
    progress(TOOL, `${receivers.receivers} receivers, ${receivers.consumers.length} video consumers (paused)`);

    const sources: SnapshotSources = {
      pool: sfu.server.pool,
      sink,
      producers: publishers.map((publisher) => publisher.producer),
      // Many ffmpeg processes: their CPU is summed around each measurement instead.
      ffmpegPid: undefined,
    };
    const hold = (seconds: number, phase: string): Promise<HoldResult | undefined> =>
      holdLoad(sources, seconds, signal, healthy, (tick, ticks, rates) => progress(TOOL, progressLine(`${phase} ${tick}/${ticks} s`, rates)));

    const measureLayout = async (plan: LayoutPlan): Promise<LayoutResult | undefined> => {
      progress(TOOL, `${plan.name}: ${plan.description}`);
      const applied = performance.now();
      await receivers.apply(plan);
      const before = await receivers.settle(plan, options.layerWaitSeconds * 1000, signal, healthy);
      const settleMs = performance.now() - applied;
      if (signal.aborted) return undefined;
      progress(
        TOOL,
        `${plan.name}: ${before.mismatches.length === 0 ? 'every consumer on its layer' : `${before.mismatches.length} consumers off their layer`} ` +
          `after ${(settleMs / 1000).toFixed(1)} s (active ${before.active}, at layer 0/1/2 ${before.byLayer.join('/')})`,
      );
      if (options.warmupSeconds > 0 && !(await hold(options.warmupSeconds, `${plan.name} warm-up`))) return undefined;

      const layersFrom = await layerCounters(publishers);
      const ffmpegFrom = ffmpegCpuSeconds(meeting);
      const started = performance.now();
      const measured = await hold(options.durationSeconds, `${plan.name} measure`);
      if (!measured) return undefined;
      const elapsed = (performance.now() - started) / 1000;
      const ffmpegCpuPercent = ((ffmpegCpuSeconds(meeting) - ffmpegFrom) / elapsed) * 100;
      const bitrates = layerBitrates(layersFrom, await layerCounters(publishers), elapsed);
      const after = receivers.census(plan);

      mismatchReport.push(...mismatchLines(plan.name, 'before measuring', before.mismatches));
      mismatchReport.push(...mismatchLines(plan.name, 'after measuring', after.mismatches));
      return {
        ...measured.rates,
        ffmpegCpuPercent,
        layout: plan.name,
        description: plan.description,
        receivers: receivers.receivers,
        settleMs,
        before,
        after,
        demandMbitPerSecond: demandMbitPerSecond(plan, options.participants, bitrates),
        ratioToNaive: null,
      };
    };

    const columns = resultColumns();
    process.stdout.write(`${tableHeader(columns)}\n`);
    for (const name of LAYOUT_NAMES) {
      const result = await measureLayout(layoutPlan(name, options.participants));
      if (!result) break;
      // naive is measured first: every later layout is compared with it.
      const naive = result.layout === 'naive' ? result : results.find((earlier) => earlier.layout === 'naive');
      if (naive && naive.outMbitPerSecond > 0) result.ratioToNaive = result.outMbitPerSecond / naive.outMbitPerSecond;
      results.push(result);
      process.stdout.write(`${tableRow(columns, result)}\n`);
    }
    for (const line of mismatchReport) process.stdout.write(`off layer: ${line}\n`);

    const summary = {
      tool: TOOL,
      date: new Date().toISOString(),
      interrupted: signal.aborted,
      machine: { ...machineInfo(), mediasoup: mediasoupVersion, ffmpeg: ffmpegVersion },
      options,
      screen: SCREEN,
      clips: SIMULCAST_LAYERS.map((layer, index) => ({
        ...layer,
        fps: CLIP_FPS,
        keyframeEverySeconds: 1,
        measuredKbps: round(ingress[index]?.kbps, 1),
        measuredPacketsPerSecond: round(ingress[index]?.packetsPerSecond, 1),
      })),
      sinkReceiveBufferBytes: sink.receiveBufferBytes,
      layouts: results.map(resultJson),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return signal.aborted ? 130 : 0;
  } finally {
    await cleanup.run();
  }
}

await runTool(TOOL, USAGE, main);
