/**
 * Bad networks: does a meeting degrade rather than break under packet loss and low bandwidth? Three
 * scenarios, each with its own network namespace and server (tests/helpers/netns.ts) and two Chromium
 * pages on the host, a publisher and a receiver that has the publisher on its stage:
 *   loss      random loss on the server's link, against a baseline of the same length without;
 *   downlink  the receiver's downlink capped, then freed: how fast the layer goes down and back up;
 *   uplink    the publisher's uplink capped: the top layer should stop, and nobody freeze.
 * See docs/benchmarks.md.
 */
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { CHROMIUM_PATH } from '../../playwright.config.ts';
import { Cleanup } from './cleanup.ts';
import { ToolError, UsageError, positiveInt, positiveNumber, progress, runTool, sleep } from './cli.ts';
import { requireFfmpeg } from './ffmpeg-source.ts';
import { machineInfo } from './machine.ts';
import { CAMERA_FPS, type Meeting, type Samples, Sampler, type StatsSample, openMeeting } from './network-meeting.ts';
import {
  type Phase,
  type PhaseFigures,
  firstAfter,
  fitsAfter,
  holdsFrom,
  layerRates,
  phaseFigures,
  publisherTable,
  receivedWidth,
  receiverTable,
  rids,
  rounded,
} from './networks-report.ts';
import { cell } from './table.ts';

const TOOL = 'networks';
const execFileAsync = promisify(execFile);
const SCENARIOS = ['loss', 'downlink', 'uplink'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

const USAGE = `Usage: node --import tsx tests/bench/networks.ts [options]

Runs a two-person meeting (one publisher, one receiver with the publisher on its stage, both Chromium
pages on this machine) against a server in its own network namespace, and degrades the link:

  loss      --loss % random packet loss both ways on the server's link, after a baseline without
  downlink  the link towards the browsers capped at --downlink-kbit, then freed
  uplink    the link from the browsers capped at --uplink-kbit, then freed

Needs root (network namespaces, iptables, tc), the built client (npm run build:client), Chromium and
ffmpeg (bash scripts/install.sh --bench).

  --scenarios LIST         comma-separated, from ${SCENARIOS.join(',')} (default: all three)
  --res H                  publisher camera height; the clip is 16:9 (default 540: 960x540, 3 layers)
  --sample-ms MS           how often both pages' stats are read (default 500)
  --warmup-timeout S       longest wait for the receiver to reach the top layer first (default 60)
  --steady S               steady state measured before a bandwidth limit (default 8)
  --loss P                 loss percentage for the loss scenario (default 5)
  --loss-duration S        length of the baseline and of the lossy phase, each (default 30)
  --downlink-kbit K        receiver downlink cap (default 300)
  --downlink-duration S    how long the downlink cap holds (default 25)
  --downlink-recovery S    how long to watch after it lifts (default 30)
  --uplink-kbit K          publisher uplink cap (default 400)
  --uplink-duration S      how long the uplink cap holds (default 25)
  --uplink-recovery S      how long to watch after it lifts (default 20)
  --samples FILE           also write every stats reading of both pages to FILE (JSON), for a closer look
  --queue-ms MS            how long a packet may wait in a capped link's queue before it is
                           dropped (tbf latency; default 200)
  --join-timeout S         how long a page may take to join (default 30)
  -h, --help               this text

Progress goes to stderr; stdout gets two tables per scenario (receiver, publisher), event times and
verdicts, then one line of JSON.
`;

interface Options {
  scenarios: ScenarioName[];
  res: number;
  sampleMs: number;
  warmupTimeoutSeconds: number;
  steadySeconds: number;
  lossPercent: number;
  lossSeconds: number;
  downlinkKbit: number;
  downlinkSeconds: number;
  downlinkRecoverySeconds: number;
  uplinkKbit: number;
  uplinkSeconds: number;
  uplinkRecoverySeconds: number;
  queueMs: number;
  samplesFile: string | undefined;
  joinTimeoutSeconds: number;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      res: { type: 'string', default: '540' },
      'sample-ms': { type: 'string', default: '500' },
      'warmup-timeout': { type: 'string', default: '60' },
      steady: { type: 'string', default: '8' },
      loss: { type: 'string', default: '5' },
      'loss-duration': { type: 'string', default: '30' },
      'downlink-kbit': { type: 'string', default: '300' },
      'downlink-duration': { type: 'string', default: '25' },
      'downlink-recovery': { type: 'string', default: '30' },
      'uplink-kbit': { type: 'string', default: '400' },
      'uplink-duration': { type: 'string', default: '25' },
      'uplink-recovery': { type: 'string', default: '20' },
      'queue-ms': { type: 'string', default: '200' },
      samples: { type: 'string' },
      'join-timeout': { type: 'string', default: '30' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const scenarios = values.scenarios.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new UsageError(`--scenarios: unknown scenario "${s}" (use ${SCENARIOS.join(', ')})`);
  }
  if (scenarios.length === 0) throw new UsageError('--scenarios needs at least one scenario');
  const res = positiveInt('res', values.res);
  if (res < 90 || res > 1080 || res % 2) throw new UsageError('--res must be an even height from 90 to 1080');
  const lossPercent = positiveNumber('loss', values.loss);
  if (lossPercent >= 100) throw new UsageError('--loss is a percentage below 100');
  const sampleMs = positiveInt('sample-ms', values['sample-ms']);
  if (sampleMs < 100) throw new UsageError('--sample-ms must be at least 100');
  return {
    scenarios: [...new Set(scenarios)] as ScenarioName[],
    res,
    sampleMs,
    warmupTimeoutSeconds: positiveNumber('warmup-timeout', values['warmup-timeout']),
    steadySeconds: positiveNumber('steady', values.steady),
    lossPercent,
    lossSeconds: positiveNumber('loss-duration', values['loss-duration']),
    downlinkKbit: positiveInt('downlink-kbit', values['downlink-kbit']),
    downlinkSeconds: positiveNumber('downlink-duration', values['downlink-duration']),
    downlinkRecoverySeconds: positiveNumber('downlink-recovery', values['downlink-recovery']),
    uplinkKbit: positiveInt('uplink-kbit', values['uplink-kbit']),
    uplinkSeconds: positiveNumber('uplink-duration', values['uplink-duration']),
    uplinkRecoverySeconds: positiveNumber('uplink-recovery', values['uplink-recovery']),
    queueMs: positiveInt('queue-ms', values['queue-ms']),
    samplesFile: values.samples,
    joinTimeoutSeconds: positiveNumber('join-timeout', values['join-timeout']),
  };
}

const CLIENT_DIST = fileURLToPath(new URL('../../client/dist', import.meta.url));
/** A downlink layer "fits" once, over this trailing window, it decodes with less than this video loss. */
const FIT_WINDOW_MS = 2_000;
const FIT_MAX_LOSS_PCT = 2;
/** A simulcast layer has stopped below this rate over a sampling interval, and is back above the other. */
const LAYER_STOPPED_KBPS = 20;
const LAYER_SENDING_KBPS = 50;
/** Video "keeps playing": at least this share of the reference frame rate, and no stall this long. */
const PLAYING_FPS_SHARE = 0.8;
const LONG_STALL_SECONDS = 2;
/** Steady means the top width for this long. */
const TOP_STABLE_MS = 3_000;
/** Shortest stretch worth its own table row. */
const MIN_ROW_MS = 3_000;

interface Check {
  what: string;
  ok: boolean;
  detail: string;
}

interface ScenarioResult {
  scenario: ScenarioName;
  chromium: string;
  topWidth: number;
  warmupSeconds: number | null;
  phases: PhaseFigures[];
  events: Record<string, number | null | string>;
  checks: Check[];
  /** How many readings each page gave. The readings themselves go to --samples FILE only: they are large. */
  samples: { publisher: number; receiver: number };
  /** Epoch ms of each phase, for reading the raw samples. */
  bounds: Phase[];
}

/** What --samples writes: every reading of both pages, per scenario. */
interface SampleDump {
  scenario: ScenarioName;
  bounds: Phase[];
  samples: Samples;
}

/** What progress shows each second. */
interface Status {
  label: string;
  since: number;
  length: number | null;
}

function describe(samples: Samples): string {
  const rcv = samples.receiver.at(-1);
  const pub = samples.publisher;
  const rcvBefore = samples.receiver.at(-3);
  let fps = '-';
  let kbps = '-';
  if (rcv && rcvBefore) {
    const seconds = (rcv.at - rcvBefore.at) / 1000;
    const frames = (s: StatsSample) => s.inbound.filter((r) => r.kind === 'video').reduce((n, r) => n + r.framesDecoded, 0);
    const bytes = (s: StatsSample) => s.inbound.reduce((n, r) => n + r.bytesReceived, 0);
    if (seconds > 0) {
      fps = cell((frames(rcv) - frames(rcvBefore)) / seconds, 1);
      kbps = cell(((bytes(rcv) - bytes(rcvBefore)) * 8) / 1000 / seconds, 0);
    }
  }
  const recent = pub.slice(-3);
  const layers = rids(recent).map((rid) => cell(layerRates(recent, rid).at(-1)?.kbps, 0)).join('/');
  const reason = pub.at(-1)?.outbound.find((r) => r.kind === 'video' && r.qualityLimitationReason !== 'none')?.qualityLimitationReason;
  return `receiver ${rcv ? receivedWidth(rcv) : '-'} px, ${fps} fps, ${kbps} kbit/s in | publisher layers ${layers || '-'} kbit/s${reason ? ` (limited: ${reason})` : ''}`;
}

/** What a capped direction's token bucket passed and dropped since it was set up. */
interface Bottleneck {
  sentPackets: number;
  sentBytes: number;
  droppedPackets: number;
  /** droppedPackets ÷ (sent + dropped), %. */
  droppedPct: number | null;
}

/**
 * Reads the tbf qdisc that Netns.limitRate() set up: on the namespace's veth end for toHost, on the
 * host's end for fromHost. Read just before clearRate(), it covers the whole limited phase.
 */
async function bottleneck(meeting: Meeting, direction: 'toHost' | 'fromHost'): Promise<Bottleneck | null> {
  const { ns } = meeting;
  const text =
    direction === 'toHost'
      ? await ns.exec('tc', ['-s', 'qdisc', 'show', 'dev', ns.nsIf])
      : (await execFileAsync('tc', ['-s', 'qdisc', 'show', 'dev', ns.hostIf])).stdout;
  const match = /qdisc tbf[\s\S]*?Sent (\d+) bytes (\d+) pkt \(dropped (\d+)/.exec(text);
  if (!match) return null;
  const [sentBytes, sentPackets, droppedPackets] = [Number(match[1]), Number(match[2]), Number(match[3])];
  return { sentBytes, sentPackets, droppedPackets, droppedPct: sentPackets + droppedPackets > 0 ? (100 * droppedPackets) / (sentPackets + droppedPackets) : null };
}

function describeBottleneck(b: Bottleneck | null, seconds: number): string {
  if (!b) return 'the bottleneck could not be read';
  return `the bottleneck passed ${cell((b.sentBytes * 8) / 1000 / seconds, 0)} kbit/s and dropped ${b.droppedPackets} of ${b.sentPackets + b.droppedPackets} packets (${cell(b.droppedPct, 1)} %)`;
}

/** Waits until the receiver decodes the publisher's top width for TOP_STABLE_MS; returns that width and how long it took. */
async function reachTopLayer(meeting: Meeting, sampler: Sampler, timeoutMs: number, signal: AbortSignal): Promise<{ topWidth: number; seconds: number | null }> {
  const start = Date.now();
  let topWidth = meeting.camera.width;
  let since: number | undefined;
  while (!signal.aborted && Date.now() - start < timeoutMs) {
    await sleep(250, signal);
    // What the publisher really encodes on its widest layer: CPU adaptation could make it smaller.
    const pub = sampler.samples.publisher.at(-1);
    const encoded = Math.max(0, ...(pub?.outbound ?? []).filter((r) => r.kind === 'video').map((r) => r.frameWidth));
    topWidth = encoded > 0 ? Math.min(encoded, meeting.camera.width) : meeting.camera.width;
    const rcv = sampler.samples.receiver.at(-1);
    if (rcv && receivedWidth(rcv) >= topWidth) {
      since ??= rcv.at;
      if (rcv.at - since >= TOP_STABLE_MS) return { topWidth, seconds: (since - start) / 1000 };
    } else {
      since = undefined;
    }
  }
  return { topWidth, seconds: null };
}

function yes(ok: boolean): string {
  return ok ? 'yes' : 'NO';
}

function seconds(value: number | null | undefined, within?: number): string {
  if (value === null || value === undefined) return within === undefined ? 'never' : `not within ${within} s`;
  return `${value.toFixed(1)} s`;
}

async function runScenario(name: ScenarioName, options: Options, signal: AbortSignal, dumps: SampleDump[]): Promise<ScenarioResult> {
  const log = (message: string) => progress(TOOL, message);
  const cleanup = new Cleanup(TOOL);
  const status: Status = { label: 'warm-up', since: Date.now(), length: null };
  let ticks = 0;
  try {
    const meeting = await openMeeting(name, { res: options.res, joinTimeoutMs: options.joinTimeoutSeconds * 1000, log }, cleanup);
    const { ns } = meeting;
    const sampler = new Sampler(meeting, options.sampleMs, log, (samples) => {
      if (++ticks % Math.max(1, Math.round(1000 / options.sampleMs)) !== 0) return;
      const elapsed = Math.floor((Date.now() - status.since) / 1000);
      log(`${name}/${status.label} ${elapsed}${status.length === null ? '' : `/${status.length}`} s | ${describe(samples)}`);
    });
    sampler.start();
    cleanup.add('the sampler', () => sampler.stop());

    const { topWidth, seconds: warmupSeconds } = await reachTopLayer(meeting, sampler, options.warmupTimeoutSeconds * 1000, signal);
    log(
      warmupSeconds === null
        ? `${name}: the receiver did not hold the top width (${topWidth} px) within ${options.warmupTimeoutSeconds} s; measuring anyway`
        : `${name}: receiver on the top layer (${topWidth} px) after ${warmupSeconds.toFixed(1)} s`,
    );

    /** Holds a phase for `length` seconds (or until interrupted) and returns its bounds. */
    const hold = async (label: string, length: number): Promise<Phase> => {
      const from = Date.now();
      Object.assign(status, { label, since: from, length });
      await sleep(length * 1000, signal);
      return { name: label, from, to: Date.now() };
    };

    const phases: Phase[] = [];
    const events: Record<string, number | null | string> = {};
    const checks: Check[] = [];
    const figures = () => phases.map((phase) => phaseFigures(sampler.samples, phase, topWidth));

    if (name === 'loss') {
      phases.push(await hold('baseline', options.lossSeconds));
      await ns.dropRandom(options.lossPercent / 100);
      try {
        phases.push(await hold(`loss ${options.lossPercent}%`, options.lossSeconds));
      } finally {
        await ns.dropRandom(0);
      }
      await sampler.stop();
      const [base, lossy] = figures() as [PhaseFigures, PhaseFigures];
      const fpsOk = lossy.receiver.fps !== null && base.receiver.fps !== null && lossy.receiver.fps >= PLAYING_FPS_SHARE * base.receiver.fps;
      const stallOk = lossy.receiver.longestStallSeconds < LONG_STALL_SECONDS;
      checks.push({
        what: 'video keeps playing',
        ok: fpsOk && stallOk,
        detail: `${cell(lossy.receiver.fps, 1)} fps against ${cell(base.receiver.fps, 1)} without loss (needs ≥ ${PLAYING_FPS_SHARE * 100} %), longest stall ${lossy.receiver.longestStallSeconds.toFixed(1)} s (needs < ${LONG_STALL_SECONDS} s)`,
      });
      const p = options.lossPercent / 100;
      checks.push({
        what: 'loss left after retransmission (information)',
        ok: true,
        detail: `the receiver's stats count ${cell(lossy.receiver.videoLossPct, 2)} % of video packets lost (baseline ${cell(base.receiver.videoLossPct, 2)} %), where two hops at ${options.lossPercent} % lose ${cell(100 * (1 - (1 - p) ** 2), 2)} % without it; NACKs: ${lossy.receiver.nacksSent} from the receiver, ${lossy.publisher.nacksReceived} to the publisher, which resent ${lossy.publisher.retransmittedPackets} packets`,
      });
      checks.push({
        what: 'freezes and audio (information)',
        ok: true,
        detail: `Chromium counted ${cell(lossy.receiver.freezes)} freezes, ${cell(lossy.receiver.frozenSeconds, 2)} s frozen (baseline ${cell(base.receiver.freezes)}, ${cell(base.receiver.frozenSeconds, 2)} s); audio: ${cell(lossy.receiver.audioLossPct, 2)} % of packets lost, ${cell(lossy.receiver.concealedPct, 2)} % of samples concealed (baseline ${cell(base.receiver.concealedPct, 2)} %), ${lossy.receiver.fecPackets} FEC packets counted`,
      });
    } else if (name === 'downlink') {
      phases.push(await hold('steady', options.steadySeconds));
      await ns.limitRate('toHost', options.downlinkKbit, { latencyMs: options.queueMs });
      let limited: Phase;
      let link: Bottleneck | null = null;
      try {
        limited = await hold(`${options.downlinkKbit}k down`, options.downlinkSeconds);
        phases.push(limited);
        link = await bottleneck(meeting, 'toHost');
      } finally {
        await ns.clearRate();
      }
      const recovery = await hold('recovery', options.downlinkRecoverySeconds);
      phases.push(recovery);
      await sampler.stop();
      const rcv = sampler.samples.receiver;
      const lower = (s: StatsSample) => receivedWidth(s) > 0 && receivedWidth(s) < topWidth;
      const down = firstAfter(rcv, limited.from, limited.to, lower);
      const fit = fitsAfter(rcv, limited.from, limited.to, topWidth, FIT_WINDOW_MS, FIT_MAX_LOSS_PCT);
      const firstTop = firstAfter(rcv, recovery.from, recovery.to, (s) => receivedWidth(s) >= topWidth);
      const up = holdsFrom(rcv, recovery.from, recovery.to, (s) => receivedWidth(s) >= topWidth, TOP_STABLE_MS);
      // The stretches after each event get rows of their own when they are long enough to say something.
      if (fit !== null && limited.to - (limited.from + fit * 1000) >= MIN_ROW_MS) {
        phases.splice(2, 0, { name: 'after fit', from: limited.from + fit * 1000, to: limited.to });
      }
      if (up !== null && recovery.to - (recovery.from + up * 1000) >= MIN_ROW_MS) {
        phases.push({ name: 'back on top', from: recovery.from + up * 1000, to: recovery.to });
      }
      const rows = figures();
      const settled = rows.find((r) => r.phase === 'after fit');
      const steady = rows[0]!;
      const underLimit = rows[1]!;
      Object.assign(events, {
        firstLowerLayerSeconds: down,
        fitsSeconds: fit,
        fitWidth: settled?.receiver.widthMedian ?? null,
        firstTopAgainSeconds: firstTop,
        topAgainSeconds: up,
        bottleneck: link,
      });
      checks.push({
        what: `moves to a layer that fits ${options.downlinkKbit} kbit/s`,
        ok: fit !== null,
        detail: `first lower layer after ${seconds(down, options.downlinkSeconds)}; fits (lower layer, < ${FIT_MAX_LOSS_PCT} % loss and no stall over ${FIT_WINDOW_MS / 1000} s) after ${seconds(fit, options.downlinkSeconds)}${settled ? `; from then on ${cell(settled.receiver.widthMedian)} px at ${cell(settled.receiver.videoKbps, 0)} kbit/s video + ${cell(settled.receiver.audioKbps, 0)} audio` : ''}; over the limit, ${describeBottleneck(link, (limited.to - limited.from) / 1000)}`,
      });
      checks.push({
        what: 'climbs back when the limit lifts',
        ok: up !== null,
        detail: `top width (${topWidth} px) held for ${TOP_STABLE_MS / 1000} s from ${seconds(up, options.downlinkRecoverySeconds)} after the limit lifted (first seen after ${seconds(firstTop, options.downlinkRecoverySeconds)})`,
      });
      const playing = settled ?? underLimit;
      const playOk =
        playing.receiver.fps !== null && steady.receiver.fps !== null && playing.receiver.fps >= PLAYING_FPS_SHARE * steady.receiver.fps &&
        underLimit.receiver.longestStallSeconds < LONG_STALL_SECONDS;
      checks.push({
        what: 'video keeps playing',
        ok: playOk,
        detail: `${cell(playing.receiver.fps, 1)} fps ${settled ? 'once a layer fits' : 'under the limit'} against ${cell(steady.receiver.fps, 1)} steady; under the whole limit ${underLimit.receiver.stalls} stalls, ${underLimit.receiver.stalledSeconds.toFixed(1)} s without a new frame, longest ${underLimit.receiver.longestStallSeconds.toFixed(1)} s (needs < ${LONG_STALL_SECONDS} s), ${underLimit.receiver.noVideoSeconds.toFixed(1)} s in which no video byte arrived`,
      });
    } else {
      phases.push(await hold('steady', options.steadySeconds));
      await ns.limitRate('fromHost', options.uplinkKbit, { latencyMs: options.queueMs });
      let limited: Phase;
      let link: Bottleneck | null = null;
      try {
        limited = await hold(`${options.uplinkKbit}k up`, options.uplinkSeconds);
        phases.push(limited);
        link = await bottleneck(meeting, 'fromHost');
      } finally {
        await ns.clearRate();
      }
      const recovery = await hold('recovery', options.uplinkRecoverySeconds);
      phases.push(recovery);
      await sampler.stop();
      const pub = sampler.samples.publisher;
      const rcv = sampler.samples.receiver;
      const top = rids(pub).at(-1);
      const rates = top ? layerRates(pub, top) : [];
      const stopAt = rates.find((r) => r.at > limited.from && r.at <= limited.to && r.kbps < LAYER_STOPPED_KBPS)?.at;
      const backAt = rates.find((r) => r.at > recovery.from && r.at <= recovery.to && r.kbps > LAYER_SENDING_KBPS)?.at;
      const stopped = stopAt === undefined ? null : (stopAt - limited.from) / 1000;
      const back = backAt === undefined ? null : (backAt - recovery.from) / 1000;
      const down = firstAfter(rcv, limited.from, limited.to, (s) => receivedWidth(s) > 0 && receivedWidth(s) < topWidth);
      const up = holdsFrom(rcv, recovery.from, recovery.to, (s) => receivedWidth(s) >= topWidth, TOP_STABLE_MS);
      Object.assign(events, {
        topLayer: top ?? null,
        topLayerStoppedSeconds: stopped,
        topLayerBackSeconds: back,
        receiverLowerLayerSeconds: down,
        receiverTopAgainSeconds: up,
        bottleneck: link,
      });
      const rows = figures();
      const limitedRow = rows[1]!;
      const topFigures = limitedRow.publisher.layers.find((l) => l.rid === top);
      checks.push({
        what: 'the publisher stops sending the top layer',
        ok: stopped !== null,
        detail: `${top ?? 'no layer'} under ${LAYER_STOPPED_KBPS} kbit/s ${seconds(stopped, options.uplinkSeconds)} after the limit; ${cell(topFigures?.kbps, 0)} kbit/s over the limited phase, encoder bandwidth-limited ${cell(topFigures?.bandwidthLimitedPct, 0)} % of it; ${describeBottleneck(link, (limited.to - limited.from) / 1000)}; sending again ${seconds(back, options.uplinkRecoverySeconds)} after the limit lifted`,
      });
      const stallFree = limitedRow.receiver.stalls === 0 && rows.every((r) => r.receiver.longestStallSeconds < LONG_STALL_SECONDS);
      checks.push({
        what: 'nobody freezes',
        ok: stallFree,
        detail: `receiver under the limit: ${limitedRow.receiver.stalls} stalls (${limitedRow.receiver.stalledSeconds.toFixed(1)} s without a new frame, longest ${limitedRow.receiver.longestStallSeconds.toFixed(1)} s), Chromium freezes ${cell(limitedRow.receiver.freezes)} (${cell(limitedRow.receiver.frozenSeconds, 2)} s; steady ${cell(rows[0]!.receiver.freezes)}), ${cell(limitedRow.receiver.fps, 1)} fps at ${cell(limitedRow.receiver.widthMedian)} px (lower layer after ${seconds(down, options.uplinkSeconds)}, top again for ${TOP_STABLE_MS / 1000} s from ${seconds(up, options.uplinkRecoverySeconds)} after the limit lifted)`,
      });
    }

    dumps.push({ scenario: name, bounds: phases, samples: sampler.samples });
    return {
      scenario: name,
      chromium: meeting.browser.version(),
      topWidth,
      warmupSeconds,
      phases: figures(),
      events,
      checks,
      samples: { publisher: sampler.samples.publisher.length, receiver: sampler.samples.receiver.length },
      bounds: phases,
    };
  } finally {
    await cleanup.run();
  }
}

/** Below this share of the camera's frame rate without any fault, the machine, not the network, limits smoothness. */
const CPU_BOUND_FPS_SHARE = 0.8;

function cpuWarning(result: ScenarioResult): string[] {
  const reference = result.phases[0]?.receiver.fps;
  if (reference === null || reference === undefined || reference >= CPU_BOUND_FPS_SHARE * CAMERA_FPS) return [];
  return [
    `note: before any fault the receiver decoded only ${reference.toFixed(1)} fps of a ${CAMERA_FPS} fps camera: this machine is short of CPU, and fps and freezes below show it as much as the network`,
  ];
}

function print(result: ScenarioResult, options: Options): void {
  const titles: Record<ScenarioName, string> = {
    loss: `loss: ${options.lossPercent} % random loss both ways on the server's link, ${options.lossSeconds} s, after ${options.lossSeconds} s without`,
    downlink: `downlink: receiver's downlink capped at ${options.downlinkKbit} kbit/s for ${options.downlinkSeconds} s, then freed for ${options.downlinkRecoverySeconds} s`,
    uplink: `uplink: publisher's uplink capped at ${options.uplinkKbit} kbit/s for ${options.uplinkSeconds} s, then freed for ${options.uplinkRecoverySeconds} s`,
  };
  const out: string[] = [
    `== ${titles[result.scenario]}`,
    `top layer ${result.topWidth} px wide; the receiver ${result.warmupSeconds === null ? 'did not hold it within the warm-up' : `held it from ${result.warmupSeconds.toFixed(1)} s after pinning the publisher`}`,
    ...cpuWarning(result),
    '',
    'receiver',
    receiverTable(result.phases),
    '',
    'publisher',
    publisherTable(result.phases),
    '',
    ...result.checks.map((c) => `${c.what}: ${c.what.endsWith('(information)') ? '' : `${yes(c.ok)}. `}${c.detail}`),
    '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main(signal: AbortSignal): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) throw new ToolError('network namespaces need root: run as root');
  if (!existsSync(`${CLIENT_DIST}/index.html`)) {
    throw new ToolError(`the built client is missing (${CLIENT_DIST}/index.html). Run \`npm run build:client\` first.`);
  }
  if (!existsSync(CHROMIUM_PATH)) {
    throw new ToolError(`Chromium is not at ${CHROMIUM_PATH}. Run \`bash scripts/install.sh --bench\` as root, or set CHROMIUM_PATH.`);
  }
  const ffmpeg = requireFfmpeg(false);
  const loadBefore = os.loadavg();
  progress(TOOL, `scenarios ${options.scenarios.join(', ')}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} CPUs`);

  const results: ScenarioResult[] = [];
  const dumps: SampleDump[] = [];
  for (const name of options.scenarios) {
    if (signal.aborted) break;
    const result = await runScenario(name, options, signal, dumps);
    if (signal.aborted) break;
    results.push(result);
    print(result, options);
  }

  const loadAfter = os.loadavg();
  process.stdout.write(`load average (1, 5, 15 min) ${loadBefore.map((l) => l.toFixed(1)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(1)).join(' ')} after, on ${os.cpus().length} CPUs\n`);
  const failed = results.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `${r.scenario}: ${c.what}`));
  if (results.length > 0) {
    process.stdout.write(failed.length === 0 ? 'verdict: every check met\n' : `verdict: not met: ${failed.join('; ')}\n`);
  }
  const json = {
    tool: TOOL,
    date: new Date().toISOString(),
    interrupted: signal.aborted,
    machine: { ...machineInfo(), loadAverageBefore: loadBefore.map((l) => Number(l.toFixed(2))), loadAverageAfter: loadAfter.map((l) => Number(l.toFixed(2))) },
    versions: { ffmpeg },
    options,
    scenarios: rounded(results),
  };
  process.stdout.write(`${JSON.stringify(json)}\n`);
  if (options.samplesFile) {
    writeFileSync(options.samplesFile, JSON.stringify({ options, scenarios: dumps }));
    progress(TOOL, `every reading written to ${options.samplesFile}`);
  }
  if (signal.aborted) return 130;
  // A receiver that never decoded video means the setup failed, not that the network was bad.
  if (results.some((r) => r.phases.every((p) => (p.receiver.fps ?? 0) === 0))) return 1;
  return 0;
}

await runTool(TOOL, USAGE, main);
