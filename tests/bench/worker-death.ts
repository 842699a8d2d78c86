/**
 * The media gap when a mediasoup worker dies: N Chromium pages in one meeting on an in-process server
 * with two workers (fixed ports, as in production); the worker carrying the meeting is SIGKILLed, and
 * each page reports when it decodes video from every other page again, on its new receivers. Repeated
 * for a few kills (each kill hits whichever worker carries the meeting by then). See docs/benchmarks.md.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Page, chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../playwright.config.ts';
import { watchVideoComeBack } from '../helpers/media-gap.ts';
import { startTestServer } from '../helpers/server.ts';
import { type Participant, openParticipant, waitUntilJoined } from './browser-participant.ts';
import { Cleanup } from './cleanup.ts';
import { ToolError, positiveInt, progress, runTool, sleep } from './cli.ts';
import { type Column, cell, table } from './table.ts';

const TOOL = 'worker-death';

const USAGE = `Usage: node --import tsx tests/bench/worker-death.ts [options]

Opens N Chromium pages (fake 320x180 cameras) in one meeting on an in-process server with two
mediasoup workers, then kills the worker carrying the meeting with SIGKILL, several times, and reports
per page the time from the kill until it decodes video from every other page again.
Needs the built client (npm run build:client).

  --pages N      participants (default 3, at least 2)
  --kills N      workers to kill, one after another (default 5)
  --base-port P  the workers' WebRTC ports: P and P+1 (default 44000)
  -h, --help     this text

Progress goes to stderr; stdout gets a table of gaps, then one line of JSON.
`;

const CLIENT_DIST = fileURLToPath(new URL('../../client/dist', import.meta.url));
const COME_BACK_TIMEOUT_MS = 60_000;
/** Between kills: media settles, and the replacement worker is up. */
const SETTLE_MS = 5_000;

async function peerIdOf(page: Page): Promise<string> {
  const id = await page.evaluate(() => window.roundtable?.peerId());
  if (!id) throw new ToolError('a page has not joined');
  return id;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      pages: { type: 'string', default: '3' },
      kills: { type: 'string', default: '5' },
      'base-port': { type: 'string', default: '44000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const pages = Math.max(2, positiveInt('pages', values.pages));
  const kills = positiveInt('kills', values.kills);
  const basePort = positiveInt('base-port', values['base-port']);
  if (!existsSync(`${CLIENT_DIST}/index.html`)) throw new ToolError('the built client is missing: run `npm run build:client` first');
  if (!existsSync(CHROMIUM_PATH)) throw new ToolError(`Chromium is not at ${CHROMIUM_PATH}`);

  const cleanup = new Cleanup(TOOL);
  try {
    const sfu = await startTestServer({
      http: { host: '127.0.0.1', port: 0, staticDir: CLIENT_DIST },
      workers: { count: 2 },
      rtc: { listenIp: '127.0.0.1', basePort },
    });
    cleanup.add('the server', () => sfu.close());
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    cleanup.add('Chromium', () => browser.close());
    const roomId = 'bench-worker-death';
    const participants: Participant[] = [];
    for (let i = 0; i < pages; i++) {
      const participant = await openParticipant(browser, {
        baseUrl: sfu.url,
        roomId,
        name: `P${i}`,
        res: 180,
        timeoutMs: COME_BACK_TIMEOUT_MS,
        onLog: (message) => progress(TOOL, message),
      });
      participants.push(participant);
      cleanup.add(`page P${i}`, () => participant.context.close());
      if (!(await waitUntilJoined(participant.page, COME_BACK_TIMEOUT_MS))) throw new ToolError(`P${i} did not join`);
    }
    const ids = await Promise.all(participants.map((p) => peerIdOf(p.page)));
    progress(TOOL, `${pages} pages joined; waiting for everyone's video`);
    const first = await Promise.all(participants.map((p, i) => watchFirstFrames(p.page, ids.filter((_, j) => j !== i))));
    if (first.some((ok) => !ok)) throw new ToolError('not every page decoded every other before the first kill');

    const gaps: Array<Array<number | null>> = [];
    for (let kill = 1; kill <= kills; kill++) {
      await sleep(SETTLE_MS);
      const room = sfu.server.registry.get(roomId);
      if (!room) throw new ToolError('the meeting is gone');
      const pid = room.routers.main.appData.workerPid;
      const comeBack = participants.map((p, i) => watchVideoComeBack(p.page, ids.filter((_, j) => j !== i), COME_BACK_TIMEOUT_MS));
      await sleep(300); // a few samples before the kill
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      const backAt = await Promise.all(comeBack);
      gaps.push(backAt.map((at) => (at === null ? null : at - killedAt)));
      progress(TOOL, `kill ${kill} (worker pid ${pid}): ${gaps.at(-1)!.map((g) => g ?? 'never').join(' / ')} ms`);
      if ([...room.peers.keys()].sort().join() !== [...ids].sort().join()) throw new ToolError('someone left the meeting');
    }

    // One row per kill: the gap each page saw ("-": video never came back within the timeout).
    const columns: Array<Column<Array<number | null>>> = [
      { header: 'kill', width: 4, value: (row) => String(gaps.indexOf(row) + 1) },
      ...participants.map((p, i) => ({ header: `${p.name} gap ms`, width: 8, value: (row: Array<number | null>) => cell(row[i]) })),
      { header: 'max ms', width: 6, value: (row) => cell(row.some((g) => g === null) ? null : Math.max(...(row as number[]))) },
    ];
    process.stdout.write(`${table(columns, gaps)}\n`);
    const all = gaps.flat().filter((g): g is number => g !== null).sort((a, b) => a - b);
    const summary = {
      tool: TOOL,
      pages,
      kills,
      gapsMs: gaps,
      medianMs: all[Math.floor(all.length / 2)] ?? null,
      maxMs: all.at(-1) ?? null,
      recovered: gaps.flat().every((g) => g !== null),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return summary.recovered ? 0 : 1;
  } finally {
    await cleanup.run();
  }
}

/** Resolves true once the page decodes camera frames from every one of `peerIds`. */
function watchFirstFrames(page: Page, peerIds: string[]): Promise<boolean> {
  return page.evaluate(
    async ({ peerIds, timeoutMs }) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const inbound = (await window.roundtable?.stats())?.inbound ?? [];
        if (peerIds.every((id) => inbound.some((s) => s.peerId === id && s.source === 'camera' && s.framesDecoded > 0))) return true;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return false;
    },
    { peerIds, timeoutMs: COME_BACK_TIMEOUT_MS },
  );
}

await runTool(TOOL, USAGE, main);
