/**
 * Side by side: the forwarding benchmark run with the same steps against two worker builds (libsrtp on
 * OpenSSL or on NSS, or any worker binary) and two receiver set-ups (an SRTP suite or plain RTP), in one
 * run, alternating A and B each round so that the machine's drift hits both. Prints, per step, the
 * median of each side and the ratio B / A of worker CPU per forwarded packet. See docs/benchmarks.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ToolError, UsageError, positiveInt, progress, runTool, srtpChoice } from './cli.ts';
import { median } from './statistics.ts';
import { type Column, cell, table } from './table.ts';

const TOOL = 'engines';
const ROOT = path.resolve(import.meta.dirname, '../..');

const USAGE = `Usage: node --import tsx tests/bench/engines.ts [options] [-- forwarding options]

Runs tests/bench/forwarding.ts once per side and round (A, B, A, B, ...) and compares worker CPU per
forwarded packet, throughput and loss. A side is BUILD[:SRTP]:
  BUILD  openssl  the 3.19 worker with libsrtp built on OpenSSL (what npm start runs)
         nss      the same worker linked to Debian's libsrtp2 (NSS crypto); built on first use (~15 min)
         PATH     any mediasoup-worker binary built for the installed mediasoup version
  SRTP   the receivers' suite (default AEAD_AES_256_GCM), or none for plain RTP

  --a SIDE       baseline (default nss)
  --b SIDE       compared with it (default openssl)
  --rounds N     runs per side, alternating (default 2)
  -h, --help     this text

Options after -- go to forwarding.ts (default: --steps 100,200,400 --duration 10).
`;

interface Side {
  label: string;
  workerBin: string;
  srtp: string;
}

interface Step {
  receivers: number;
  outPacketsPerSecond: number;
  workerCpuPercent: (number | null)[];
  lossPercent: number | null;
  sinkCpuPercent?: number | null;
}

/** Worker CPU per packet that reached the sink, in µs; every worker together. */
function microsPerPacket(step: Step): number | null {
  if (step.workerCpuPercent.some((v) => v === null) || step.outPacketsPerSecond <= 0) return null;
  const cpuSeconds = step.workerCpuPercent.reduce<number>((sum, v) => sum + (v ?? 0), 0) / 100;
  return (cpuSeconds / step.outPacketsPerSecond) * 1e6;
}

function workerBinFor(build: string): string {
  if (build === 'openssl' || build === 'nss') {
    progress(TOOL, `finding (or building) the ${build} worker`);
    const out = execFileSync('bash', [path.join(ROOT, 'scripts/build-mediasoup-worker.sh'), '--no-link'], {
      env: { ...process.env, ROUNDTABLE_SRTP_CRYPTO: build },
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    });
    return out.trim().split('\n').pop()!;
  }
  const bin = path.resolve(build);
  if (!existsSync(bin)) throw new UsageError(`no worker binary at ${bin}`);
  return bin;
}

/** BUILD[:SRTP] → the side, its worker found (or built) on the way. */
function parseSide(flag: string, raw: string): Side {
  const [build, srtp = 'AEAD_AES_256_GCM', ...rest] = raw.split(':');
  if (!build || rest.length > 0) throw new UsageError(`--${flag} must look like openssl, nss:none or /path/to/worker:AEAD_AES_256_GCM (got "${raw}")`);
  srtpChoice(flag, srtp);
  return { label: raw, workerBin: workerBinFor(build), srtp };
}

/** One forwarding run; its steps from the JSON summary on the last line of stdout. */
function runForwarding(side: Side, args: readonly string[], signal: AbortSignal): Promise<Step[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'tests/bench/forwarding.ts'), ...args, '--srtp', side.srtp], {
      cwd: ROOT,
      env: { ...process.env, MEDIASOUP_WORKER_BIN: side.workerBin },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const onAbort = (): void => void child.kill('SIGINT');
    signal.addEventListener('abort', onAbort, { once: true });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      signal.removeEventListener('abort', onAbort);
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new ToolError(`forwarding.ts (${side.label}) exited with ${code}`));
      try {
        resolve((JSON.parse(last) as { steps: Step[] }).steps);
      } catch {
        reject(new ToolError(`forwarding.ts (${side.label}) printed no JSON summary`));
      }
    });
  });
}

interface Row {
  receivers: number;
  a: Step[];
  b: Step[];
}

const med = (steps: Step[], pick: (step: Step) => number | null | undefined): number | null => {
  const values = steps.map(pick).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return median(values) ?? null;
};

function columns(): Column<Row>[] {
  const side = (name: 'a' | 'b', label: string): Column<Row>[] => [
    { header: `${label} pkt/s`, width: 9, value: (r) => cell(med(r[name], (s) => s.outPacketsPerSecond)) },
    { header: `${label} µs/pkt`, width: 9, value: (r) => cell(med(r[name], microsPerPacket), 2) },
    { header: `${label} loss %`, width: 8, value: (r) => cell(med(r[name], (s) => s.lossPercent), 2) },
    { header: `${label} sink %`, width: 8, value: (r) => cell(med(r[name], (s) => s.sinkCpuPercent)) },
  ];
  return [
    { header: 'receivers', width: 9, value: (r) => String(r.receivers) },
    ...side('a', 'A'),
    ...side('b', 'B'),
    {
      header: 'B/A µs/pkt',
      width: 10,
      value: (r) => {
        const ratio = (med(r.b, microsPerPacket) ?? NaN) / (med(r.a, microsPerPacket) ?? NaN);
        return cell(ratio, 2);
      },
    },
    { header: 'runs', width: 4, value: (r) => `${r.a.length}+${r.b.length}` },
  ];
}

async function main(signal: AbortSignal): Promise<number> {
  const argv = process.argv.slice(2);
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  const passed = split < 0 ? ['--steps', '100,200,400', '--duration', '10'] : argv.slice(split + 1);
  if (passed.includes('--srtp')) throw new UsageError('give the suite in --a/--b (BUILD:SRTP), not to forwarding.ts');
  const { values } = parseArgs({
    args: own,
    strict: true,
    options: {
      a: { type: 'string', default: 'nss' },
      b: { type: 'string', default: 'openssl' },
      rounds: { type: 'string', default: '2' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const rounds = positiveInt('rounds', values.rounds);
  const a = parseSide('a', values.a);
  const b = parseSide('b', values.b);
  process.stdout.write(`A = ${a.label} (${a.workerBin})\nB = ${b.label} (${b.workerBin})\nforwarding.ts ${passed.join(' ')}\n`);

  const runs: { a: Step[][]; b: Step[][] } = { a: [], b: [] };
  for (let round = 1; round <= rounds && !signal.aborted; round++) {
    for (const [name, side] of [['a', a], ['b', b]] as const) {
      if (signal.aborted) break;
      progress(TOOL, `round ${round}/${rounds}: ${name.toUpperCase()} = ${side.label}`);
      runs[name].push(await runForwarding(side, passed, signal));
    }
  }
  const receivers = [...new Set([...runs.a, ...runs.b].flat().map((s) => s.receivers))].sort((x, y) => x - y);
  const rows: Row[] = receivers.map((n) => ({
    receivers: n,
    a: runs.a.flatMap((steps) => steps.filter((s) => s.receivers === n)),
    b: runs.b.flatMap((steps) => steps.filter((s) => s.receivers === n)),
  }));
  process.stdout.write(`${table(columns(), rows)}\n`);
  process.stdout.write(`${JSON.stringify({ tool: TOOL, date: new Date().toISOString(), a, b, forwarding: passed, rows })}\n`);
  return signal.aborted ? 130 : 0;
}

await runTool(TOOL, USAGE, main);
