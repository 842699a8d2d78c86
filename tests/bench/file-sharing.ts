/**
 * File sharing throughput through the SFU, with real Chromium pages: one page shares a file, N pages
 * receive it, each on its own data channel paced by its own connection. For each N, a fresh meeting:
 * the pages join (no camera, no microphone), a small file opens every data channel, then the measured
 * file is shared. Reports the upload's rate and each receiver's rate, from the moment the sender
 * offered the file to the moment the receiver had it checked (its own SHA-256 in the page), and the
 * aggregate the server sent. See docs/benchmarks.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Browser, type Page, chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../playwright.config.ts';
import { startTestServer } from '../helpers/server.ts';
import { Cleanup } from './cleanup.ts';
import { ToolError, increasingIntList, positiveInt, positiveNumber, progress, runTool, sleep } from './cli.ts';
import { machineInfo } from './machine.ts';
import { type Column, cell, table } from './table.ts';

const TOOL = 'file-sharing';
const MB = 1024 * 1024;

const USAGE = `Usage: node --import tsx tests/bench/file-sharing.ts [options]

One Chromium page shares a file with N others in a meeting on an in-process server (loopback);
each receiver gets it on its own data channel from the SFU. Needs the built client
(npm run build:client).

  --receivers LIST  receiving pages, one run each (default 1,3,6)
  --size MB         size of the shared file in MiB (default 20)
  --timeout S       how long one run may take (default 120)
  --workers N       mediasoup workers (default 1)
  -h, --help        this text

Progress goes to stderr; stdout gets a table, then one line of JSON.
`;

interface Options {
  receivers: number[];
  sizeMiB: number;
  timeoutSeconds: number;
  workers: number;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      receivers: { type: 'string', default: '1,3,6' },
      size: { type: 'string', default: '20' },
      timeout: { type: 'string', default: '120' },
      workers: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  return {
    receivers: increasingIntList('receivers', values.receivers),
    sizeMiB: positiveNumber('size', values.size),
    timeoutSeconds: positiveNumber('timeout', values.timeout),
    workers: positiveInt('workers', values.workers),
  };
}

const CLIENT_DIST = fileURLToPath(new URL('../../client/dist', import.meta.url));

interface RunResult {
  receivers: number;
  bytes: number;
  uploadSeconds: number;
  /** Per receiver, from the offer to its checked copy. */
  receiverSeconds: number[];
  /** Payload bytes the server sent each receiver (the warm-up file included). */
  serverBytes: number[];
}

interface FileTimes {
  transfer: string;
  startedAt?: number;
  completedAt?: number;
  error?: string;
}

/** The page's own view of one file (window.roundtable.files()). */
function timesOf(page: Page, name: string): Promise<FileTimes | undefined> {
  return page.evaluate((name) => {
    const file = window.roundtable?.files().find((f) => f.name === name);
    return file && { transfer: file.transfer, startedAt: file.startedAt, completedAt: file.completedAt, error: file.error };
  }, name);
}

async function joinPage(browser: Browser, baseUrl: string, roomId: string, name: string, deadline: number): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${baseUrl}/room/${roomId}?name=${encodeURIComponent(name)}&join=1&camera=0&mic=0`);
  while ((await page.evaluate(() => window.roundtable?.status())) !== 'joined') {
    if (Date.now() > deadline) throw new ToolError(`${name} did not join in time`);
    await sleep(50);
  }
  return page;
}

/** Shares `bytes` from the sender and waits until every page has it; returns each page's times. */
async function shareAndWait(sender: Page, receivers: Page[], name: string, bytes: Buffer, deadline: number, signal: AbortSignal): Promise<FileTimes[]> {
  await sender.getByTestId('file-input').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: bytes });
  const pages = [sender, ...receivers];
  for (;;) {
    const times = await Promise.all(pages.map((page) => timesOf(page, name)));
    const failed = times.findIndex((t) => t?.transfer === 'failed');
    if (failed >= 0) throw new ToolError(`page ${failed} failed to transfer ${name}: ${times[failed]!.error}`);
    if (times.every((t) => t?.transfer === 'done')) return times as FileTimes[];
    if (Date.now() > deadline || signal.aborted) throw new ToolError(`${name} did not reach every page in time`);
    await sleep(100, signal);
  }
}

const columns: Column<RunResult>[] = [
  { header: 'receivers', width: 9, value: (r) => String(r.receivers) },
  { header: 'MiB', width: 5, value: (r) => cell(r.bytes / MB, 0) },
  { header: 'upload MB/s', width: 11, value: (r) => cell(r.bytes / MB / r.uploadSeconds, 1) },
  { header: 'receiver MB/s median', width: 20, value: (r) => cell(median(r.receiverSeconds.map((s) => r.bytes / MB / s)), 1) },
  { header: 'slowest MB/s', width: 12, value: (r) => cell(r.bytes / MB / Math.max(...r.receiverSeconds), 1) },
  { header: 'aggregate MB/s', width: 14, value: (r) => cell((r.receivers * r.bytes) / MB / Math.max(...r.receiverSeconds), 1) },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function main(signal: AbortSignal): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!existsSync(`${CLIENT_DIST}/index.html`)) throw new ToolError(`the built client is missing (${CLIENT_DIST}/index.html). Run \`npm run build:client\` first.`);
  if (!existsSync(CHROMIUM_PATH)) throw new ToolError(`Chromium is not at ${CHROMIUM_PATH}. Run \`bash scripts/install.sh --bench\` as root, or set CHROMIUM_PATH.`);
  const bytes = Math.round(options.sizeMiB * MB);
  const cleanup = new Cleanup(TOOL);
  const results: RunResult[] = [];
  try {
    const sfu = await startTestServer({
      http: { host: '127.0.0.1', port: 0, staticDir: CLIENT_DIST },
      workers: { count: options.workers },
      files: { maxFileBytes: Math.max(bytes, 1), maxRoomBytes: Math.max(bytes, 1) * 2 },
    });
    cleanup.add('the server', () => sfu.close());
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    cleanup.add('Chromium', () => browser.close());
    progress(TOOL, `server ${sfu.url}, Chromium ${browser.version()}, ${options.sizeMiB} MiB file`);

    for (const count of options.receivers) {
      if (signal.aborted) break;
      const deadline = Date.now() + options.timeoutSeconds * 1000;
      const roomId = `bench-files-${count}-${Date.now().toString(36)}`;
      const sender = await joinPage(browser, sfu.url, roomId, 'Sender', deadline);
      await sender.getByTestId('chat-button').click();
      const receivers: Page[] = [];
      for (let i = 0; i < count; i++) receivers.push(await joinPage(browser, sfu.url, roomId, `R${i}`, deadline));
      await shareAndWait(sender, receivers, 'warm-up.bin', randomBytes(64 * 1024), deadline, signal);
      progress(TOOL, `${count} receiver(s): channels open, sharing ${options.sizeMiB} MiB`);

      const [sent, ...got] = await shareAndWait(sender, receivers, 'measured.bin', randomBytes(bytes), deadline, signal);
      const start = sent!.startedAt!;
      const room = sfu.server.registry.get(roomId);
      const receiverIds = await Promise.all(receivers.map((page) => page.evaluate(() => window.roundtable?.peerId() ?? '')));
      const result: RunResult = {
        receivers: count,
        bytes,
        uploadSeconds: (sent!.completedAt! - start) / 1000,
        receiverSeconds: got.map((t) => (t.completedAt! - start) / 1000),
        serverBytes: receiverIds.map((id) => room?.files.bytesSentTo(id) ?? 0),
      };
      results.push(result);
      progress(TOOL, `${count} receiver(s): upload ${result.uploadSeconds.toFixed(2)} s; receivers ${result.receiverSeconds.map((s) => s.toFixed(2)).join(', ')} s`);
      await Promise.all([sender, ...receivers].map((page) => page.context().close()));
    }

    process.stdout.write(`${table(columns, results)}\n`);
    process.stdout.write('MB/s are MiB per second, from the offer to the moment the page had its copy checked.\n');
    const json = { tool: TOOL, date: new Date().toISOString(), interrupted: signal.aborted, machine: { ...machineInfo(), chromium: browser.version() }, options, results };
    process.stdout.write(`${JSON.stringify(json)}\n`);
    return signal.aborted ? 130 : 0;
  } finally {
    await cleanup.run();
  }
}

await runTool(TOOL, USAGE, main);
