/**
 * End-to-end meeting quality with real Chromium pages: N participants join one meeting one after
 * another (fake 320x180 cameras), then the meeting is held while every page reports what it decodes.
 * Reports join time (page open → first remote video frame), frame rate per remote stream, freezes and
 * loss. See docs/benchmarks.md.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../playwright.config.ts';
import { startTestServer } from '../helpers/server.ts';
import { type Participant, allRemoteVideoAt, openParticipant, sampleInbound, waitUntilJoined } from './browser-participant.ts';
import { type PageResult, type PageSample, pageColumns, pageResult, summarize, summaryColumns } from './browsers-report.ts';
import { Cleanup } from './cleanup.ts';
import { ToolError, UsageError, positiveInt, positiveNumber, progress, runTool, sleep, unlessAborted } from './cli.ts';
import { cell, table } from './table.ts';

const TOOL = 'browsers';

const USAGE = `Usage: node --import tsx tests/bench/browsers.ts [options]

Opens N Chromium pages (one browser context each, fake camera and microphone) in one meeting on an
in-process server, one after another, then holds the meeting and reports what each page decodes.
Needs the built client (npm run build:client).

  --pages N         participants (default 6, at least 2)
  --duration S      seconds to hold the full meeting while measuring (default 20)
  --join-timeout S  how long a page may take to decode its first remote video (default 30)
  --res H           fake camera height passed as ?res= (default 180, i.e. 320x180)
  --workers N       mediasoup workers (default 1)
  -h, --help        this text

Progress goes to stderr; stdout gets a table per page, a summary table, then one line of JSON.
`;

interface Options {
  pages: number;
  durationSeconds: number;
  joinTimeoutSeconds: number;
  res: number;
  workers: number;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      pages: { type: 'string', default: '6' },
      duration: { type: 'string', default: '20' },
      'join-timeout': { type: 'string', default: '30' },
      res: { type: 'string', default: '180' },
      workers: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const pages = positiveInt('pages', values.pages);
  if (pages < 2) throw new UsageError('--pages must be at least 2: a page needs someone to see');
  return {
    pages,
    durationSeconds: positiveNumber('duration', values.duration),
    joinTimeoutSeconds: positiveNumber('join-timeout', values['join-timeout']),
    res: positiveInt('res', values.res),
    workers: positiveInt('workers', values.workers),
  };
}

const CLIENT_DIST = fileURLToPath(new URL('../../client/dist', import.meta.url));

/** Reads every page at once; a page that cannot answer (crashed, closed) just misses this reading. */
async function sampleAll(participants: readonly Participant[], samples: PageSample[][]): Promise<void> {
  await Promise.all(
    participants.map(async (participant, index) => {
      try {
        samples[index]!.push({ at: performance.now(), inbound: await sampleInbound(participant.page) });
      } catch (error) {
        progress(TOOL, `${participant.name}: no stats this second: ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
  );
}

/** Frames per remote video stream in the last second, averaged over pages, and pages where some stream stalled. */
function lastSecond(samples: readonly PageSample[][]): { fps: number | null; stalled: number } {
  const rates: number[] = [];
  let stalled = 0;
  for (const page of samples) {
    const [before, now] = page.slice(-2);
    if (!before || !now) continue;
    const previous = new Map(before.inbound.filter((s) => s.kind === 'video').map((s) => [s.key, s.framesDecoded]));
    const deltas = now.inbound
      .filter((s) => s.kind === 'video' && previous.has(s.key))
      .map((s) => s.framesDecoded - previous.get(s.key)!);
    if (deltas.some((d) => d <= 0)) stalled++;
    if (deltas.length) rates.push(deltas.reduce((a, b) => a + b, 0) / deltas.length / ((now.at - before.at) / 1000));
  }
  return { fps: rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : null, stalled };
}

async function main(signal: AbortSignal): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!existsSync(`${CLIENT_DIST}/index.html`)) {
    throw new ToolError(`the built client is missing (${CLIENT_DIST}/index.html). Run \`npm run build:client\` first.`);
  }
  if (!existsSync(CHROMIUM_PATH)) {
    throw new ToolError(`Chromium is not at ${CHROMIUM_PATH}. Run \`bash scripts/install.sh --bench\` as root, or set CHROMIUM_PATH.`);
  }

  const cleanup = new Cleanup(TOOL);
  try {
    const sfu = await startTestServer({ http: { host: '127.0.0.1', port: 0, staticDir: CLIENT_DIST }, workers: { count: options.workers } });
    cleanup.add('the server', () => sfu.close());
    let workerDied = false;
    sfu.server.pool.on('workerDied', (index, error) => {
      workerDied = true;
      progress(TOOL, `mediasoup worker ${index} died (${error.message}): the meeting on it was closed`);
    });
    const maxPeers = sfu.server.config.rooms.maxPeersPerRoom;
    if (options.pages > maxPeers) throw new UsageError(`--pages ${options.pages} is above rooms.maxPeersPerRoom (${maxPeers})`);

    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    cleanup.add('Chromium', () => browser.close());
    const roomId = `bench-${Date.now().toString(36)}`;
    const timeoutMs = options.joinTimeoutSeconds * 1000;
    progress(TOOL, `server ${sfu.url}, meeting ${roomId}, ${options.pages} pages, Chromium ${browser.version()}`);

    // One at a time, each waiting until it sees video: a join is measured into a meeting already
    // running, not against other pages starting at the same moment.
    const participants: Participant[] = [];
    const joinMs: (number | null)[] = [];
    for (let i = 0; i < options.pages && !signal.aborted; i++) {
      const participant = await openParticipant(browser, {
        baseUrl: sfu.url,
        roomId,
        name: `P${i}`,
        res: options.res,
        timeoutMs,
        onLog: (message) => progress(TOOL, message),
      });
      participants.push(participant);
      if (i === 0) {
        const joined = await unlessAborted(waitUntilJoined(participant.page, timeoutMs), signal, true);
        if (!joined) throw new ToolError(`P0 did not join within ${options.joinTimeoutSeconds} s`);
        progress(TOOL, 'P0 joined (alone, so its first-frame time waits for P1 and is not a join time)');
        joinMs.push(null);
        continue;
      }
      const at = await unlessAborted(participant.firstRemoteFrameAt, signal, null);
      if (signal.aborted) break;
      joinMs.push(at === null ? null : at - participant.openedAt);
      progress(TOOL, `${participant.name}: ${at === null ? `no remote video within ${options.joinTimeoutSeconds} s` : `first remote frame after ${at - participant.openedAt} ms`}`);
    }
    // P0's first frame is reported (marked) but left out of the join statistics.
    const [p0] = participants;
    const p0FrameAt = p0 && !signal.aborted ? await p0.firstRemoteFrameAt : null;
    if (p0 && p0FrameAt !== null) joinMs[0] = p0FrameAt - p0.openedAt;

    // The hold measures the full meeting: first wait until every page decodes every other page.
    let allVideoMs: number | null = null;
    const lastOpenedAt = participants[participants.length - 1]?.openedAt;
    if (!signal.aborted && lastOpenedAt !== undefined) {
      const peers = participants.length - 1;
      const waits = Promise.all(
        participants.map((p) => allRemoteVideoAt(p.page, peers, timeoutMs, (message) => progress(TOOL, `${p.name}: ${message}`))),
      );
      const times: (number | null)[] = await unlessAborted(waits, signal, []);
      const arrived = times.filter((t): t is number => t !== null);
      if (arrived.length === participants.length) {
        allVideoMs = Math.max(...arrived) - lastOpenedAt;
        progress(TOOL, `every page decodes all ${peers} others, ${allVideoMs} ms after the last page opened`);
      } else if (!signal.aborted) {
        const missing = participants.length - arrived.length;
        progress(TOOL, `${missing} page(s) did not decode all ${peers} others within ${options.joinTimeoutSeconds} s; holding anyway`);
      }
    }

    const samples: PageSample[][] = participants.map(() => []);
    if (!signal.aborted) {
      await sampleAll(participants, samples);
      const start = performance.now();
      const ticks = Math.ceil(options.durationSeconds);
      for (let tick = 1; tick <= ticks && !signal.aborted; tick++) {
        await sleep(start + Math.min(tick, options.durationSeconds) * 1000 - performance.now(), signal);
        if (signal.aborted) break;
        await sampleAll(participants, samples);
        const { fps, stalled } = lastSecond(samples);
        progress(TOOL, `hold ${tick}/${ticks} s | ${cell(fps, 1)} fps per remote stream | ${stalled}/${participants.length} pages with a stalled stream`);
      }
    }

    const results: PageResult[] = participants.map((participant, i) =>
      pageResult(participant.name, joinMs[i] ?? null, i === 0, options.pages - 1, samples[i]!),
    );
    const summary = summarize(results, allVideoMs);
    process.stdout.write(`${table(pageColumns, results)}\n* P0 joined an empty meeting: its wait is for P1, not a join time.\n\n`);
    process.stdout.write(`${table(summaryColumns, [summary])}\n`);
    const json = {
      tool: TOOL,
      date: new Date().toISOString(),
      interrupted: signal.aborted,
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', kernel: os.release(), node: process.version, chromium: browser.version() },
      options,
      summary,
      pages: results,
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);

    if (signal.aborted) return 130;
    if (workerDied) return 1;
    const missing = results.filter((r) => !r.first && r.joinMs === null).length;
    if (missing > 0) {
      progress(TOOL, `${missing} page(s) never decoded remote video`);
      return 1;
    }
    return 0;
  } finally {
    await cleanup.run();
  }
}

await runTool(TOOL, USAGE, main);
