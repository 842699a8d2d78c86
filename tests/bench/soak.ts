/**
 * Soak: churns synthetic peers through an in-process server (real mediasoup workers) for a long
 * time while a few real Chromium pages stay in a meeting, samples the server between churn rounds,
 * and judges the growth of every metric per 1,000 joins. See docs/benchmarks.md ("Soak").
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CHROMIUM_PATH } from '../../playwright.config.ts';
import type { RoundtableServer } from '../../sfu/src/server.ts';
import { TestClient } from '../helpers/client.ts';
import { type TestPeer, joinPeer } from '../helpers/meeting.ts';
import { startTestServer } from '../helpers/server.ts';
import { Cleanup } from './cleanup.ts';
import { ToolError, UsageError, nonNegativeNumber, positiveInt, positiveNumber, progress, runTool, sleep } from './cli.ts';
import { machineInfo } from './machine.ts';
import { SoakBrowsers } from './soak-browsers.ts';
import { Churn } from './soak-churn.ts';
import {
  type CountCheck,
  type SoakSample,
  checkColumns,
  countChecks,
  sampleColumns,
  soakVerdict,
  verdictColumns,
} from './soak-report.ts';
import { SoakSampler } from './soak-sampler.ts';
import { round } from './statistics.ts';
import { table, tableHeader, tableRow } from './table.ts';

const TOOL = 'soak';

const USAGE = `Usage: npm run bench:soak -- [options]

Churns synthetic peers (meetings, a lobby, a webinar with viewers, reconnects, host actions) through
an in-process server with real mediasoup workers, while Chromium pages stay in one meeting; samples
the server between rounds and prints a table per interval and a verdict: growth per 1,000 joins.
Needs the built client (npm run build:client) unless --browsers 0.

  --minutes M           how long to churn (default 10; the documented long run is 60)
  --interval-seconds S  sampling interval (default 30)
  --warmup-minutes M    samples before this are left out of the fit (default: a fifth of the run, at most 2)
  --browsers N          Chromium pages held in a meeting, 0-3 (default 2; 0: two synthetic residents instead)
  --rejoin-seconds S    one page leaves and rejoins this often (default 120; 0: never)
  --meetings N          open meetings per round (default 3)
  --peers N             peers in each (default 4, at least 3)
  --viewers N           webinar viewers per round (default 6; 0: no webinar)
  --visitors N          synthetic peers through that long-lived meeting per round (default 2)
  --workers N           mediasoup workers (default 2)
  --consumer-budget N   consumers per worker before a room grows onto another (default 20, low so
                        that rooms span both workers and pipes are made and closed every round)
  -h, --help            this text

Progress goes to stderr; stdout gets the sample table, the verdict, then one line of JSON.
Exit code 0 when the verdict is PASS, 1 when it is FAIL.
`;

interface Options {
  minutes: number;
  intervalSeconds: number;
  warmupMinutes: number;
  browsers: number;
  rejoinSeconds: number;
  meetings: number;
  peers: number;
  viewers: number;
  visitors: number;
  workers: number;
  consumerBudget: number;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      minutes: { type: 'string', default: '10' },
      'interval-seconds': { type: 'string', default: '30' },
      'warmup-minutes': { type: 'string' },
      browsers: { type: 'string', default: '2' },
      'rejoin-seconds': { type: 'string', default: '120' },
      meetings: { type: 'string', default: '3' },
      peers: { type: 'string', default: '4' },
      viewers: { type: 'string', default: '6' },
      visitors: { type: 'string', default: '2' },
      workers: { type: 'string', default: '2' },
      'consumer-budget': { type: 'string', default: '20' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const minutes = positiveNumber('minutes', values.minutes);
  const browsers = nonNegativeNumber('browsers', values.browsers);
  if (!Number.isInteger(browsers) || browsers > 3) throw new UsageError('--browsers must be 0, 1, 2 or 3');
  const peers = positiveInt('peers', values.peers);
  if (peers < 3) throw new UsageError('--peers must be at least 3 (a host, a muted peer, a reconnecting peer)');
  return {
    minutes,
    intervalSeconds: positiveNumber('interval-seconds', values['interval-seconds']),
    warmupMinutes:
      values['warmup-minutes'] === undefined ? Math.min(2, minutes / 5) : nonNegativeNumber('warmup-minutes', values['warmup-minutes']),
    browsers,
    rejoinSeconds: nonNegativeNumber('rejoin-seconds', values['rejoin-seconds']),
    meetings: positiveInt('meetings', values.meetings),
    peers,
    viewers: Math.trunc(nonNegativeNumber('viewers', values.viewers)),
    visitors: Math.trunc(nonNegativeNumber('visitors', values.visitors)),
    workers: positiveInt('workers', values.workers),
    consumerBudget: positiveInt('consumer-budget', values['consumer-budget']),
  };
}

const CLIENT_DIST = fileURLToPath(new URL('../../client/dist', import.meta.url));
/** Short, so an abandoned peer's place is freed within a round or two rather than after 30 s. */
const RECONNECT_GRACE_MS = 2_000;
/** Without browsers, synthetic residents hold the long-lived meeting the visitors pass through. */
const RESIDENTS = 2;
const SETTLE_TIMEOUT_MS = RECONNECT_GRACE_MS + 15_000;
/** The churn comes from one address: the per-address abuse limits would otherwise refuse it. */
const UNLIMITED = { connectionsPerAddress: 100_000, joinsPerMinute: 100_000, roomCreationsPerMinute: 100_000 };

/**
 * Waits until only the long-lived meeting is left, holding exactly its browsers or residents (or no room at all):
 * every synthetic peer of the round gone, including the one left to its grace period.
 */
async function settle(server: RoundtableServer, liveRoomId: string | undefined, holders: number, signal: AbortSignal): Promise<boolean> {
  const deadline = performance.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const rooms = server.registry.rooms();
    const onlyBrowsers =
      holders === 0 ? rooms.length === 0 : rooms.length === 1 && rooms[0]!.id === liveRoomId && rooms[0]!.peers.size === holders;
    if (onlyBrowsers) return true;
    if (signal.aborted || performance.now() > deadline) return false;
    await sleep(100, signal);
  }
}

async function main(signal: AbortSignal): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (options.browsers > 0 && !existsSync(`${CLIENT_DIST}/index.html`)) {
    throw new ToolError(`the built client is missing (${CLIENT_DIST}/index.html). Run \`npm run build:client\` first, or pass --browsers 0.`);
  }
  if (options.browsers > 0 && !existsSync(CHROMIUM_PATH)) {
    throw new ToolError(`Chromium is not at ${CHROMIUM_PATH}. Run \`bash scripts/install.sh --bench\` as root, or set CHROMIUM_PATH.`);
  }

  const cleanup = new Cleanup(TOOL);
  const sampler = new SoakSampler();
  cleanup.add('the sampler', () => sampler.close());
  try {
    if (!sampler.collectsGarbage) progress(TOOL, 'warning: node runs without --expose-gc; heap figures include garbage');
    const sfu = await startTestServer({
      http: { host: '127.0.0.1', port: 0, staticDir: options.browsers > 0 ? CLIENT_DIST : '' },
      workers: { count: options.workers, consumerBudget: options.consumerBudget },
      rooms: { reconnectGraceMs: RECONNECT_GRACE_MS },
      limits: UNLIMITED,
      signaling: { requestsPerSecond: 1_000, requestBurst: 1_000 },
    } as Parameters<typeof startTestServer>[0]);
    cleanup.add('the server', () => sfu.close());
    const server = sfu.server;
    let fatal: Error | undefined;
    server.pool.on('workerDied', (index, error) => {
      fatal ??= new ToolError(`mediasoup worker ${index} died (${error.message}); the figures after it mean nothing`);
    });

    // The probe router is made on the first connectivity check and lives as long as the server:
    // make it now so that it belongs to every baseline.
    const prober = await TestClient.connect(sfu.url);
    await prober.ok('checkConnectivity', {});
    prober.close();
    await sleep(200, signal);
    const idle = await sampler.sample(server, 0, 0);

    let browsers: SoakBrowsers | undefined;
    const residents: TestPeer[] = [];
    const liveRoomId = `soak-live-${Date.now().toString(36)}`;
    const holders = options.browsers > 0 ? options.browsers : RESIDENTS;
    if (options.browsers > 0) {
      progress(TOOL, `opening ${options.browsers} Chromium page(s) in ${liveRoomId}`);
      browsers = await SoakBrowsers.open(sfu.url, liveRoomId, options.browsers, (message) => progress(TOOL, message));
      cleanup.add('Chromium', () => browsers!.close());
      progress(TOOL, `Chromium ${browsers.version()}: every page decodes the others`);
    } else {
      cleanup.add('the residents', () => residents.forEach((resident) => resident.client.close()));
      for (let i = 0; i < RESIDENTS; i++) residents.push(await joinPeer(sfu.url, liveRoomId, `resident${i}`, { publish: true }));
    }
    if (!(await settle(server, liveRoomId, holders, signal))) throw new ToolError('the long-lived meeting did not settle');
    const baseline = await sampler.sample(server, 0, 0);
    progress(
      TOOL,
      `baseline with only the long-lived meeting: ${baseline.routers} routers, ${baseline.transports} transports, ${baseline.producers} producers, ${baseline.consumers} consumers`,
    );

    const churn = new Churn(
      sfu.url,
      { meetings: options.meetings, peersPerMeeting: options.peers, viewers: options.viewers, visitors: options.visitors },
      liveRoomId,
    );
    const samples: SoakSample[] = [baseline];
    process.stdout.write(`${tableHeader(sampleColumns)}\n${tableRow(sampleColumns, baseline)}\n`);
    const start = performance.now();
    const elapsed = () => (performance.now() - start) / 1000;
    const durationSeconds = options.minutes * 60;
    let nextSampleAt = options.intervalSeconds;
    let nextRejoinAt = options.rejoinSeconds > 0 ? options.rejoinSeconds : Infinity;
    let unsettled = 0;

    while (elapsed() < durationSeconds && !signal.aborted && !fatal) {
      await churn.round();
      // The residents' own event log is the tool's memory, not the server's.
      for (const resident of residents) resident.client.received.splice(0);
      if (!(await settle(server, liveRoomId, holders, signal)) && !signal.aborted) {
        unsettled++;
        progress(TOOL, `round ${churn.stats.rounds}: synthetic peers still present after ${SETTLE_TIMEOUT_MS / 1000} s`);
      }
      if (browsers && elapsed() >= nextRejoinAt && !signal.aborted) {
        nextRejoinAt += options.rejoinSeconds;
        const rejoin = await browsers.rejoinOne();
        progress(TOOL, `${rejoin.name} rejoined: ${rejoin.videoMs === null ? 'NO video from the others' : `decodes the others after ${rejoin.videoMs} ms`}`);
        await settle(server, liveRoomId, holders, signal);
      }
      if (elapsed() >= nextSampleAt && !signal.aborted) {
        while (nextSampleAt <= elapsed()) nextSampleAt += options.intervalSeconds;
        const sample = await sampler.sample(server, elapsed(), churn.stats.joins);
        samples.push(sample);
        process.stdout.write(`${tableRow(sampleColumns, sample)}\n`);
      }
    }
    if (fatal) throw fatal;

    // Churn has stopped: the counts must be back to the browsers' baseline, then to the idle server.
    const settled = await settle(server, liveRoomId, holders, signal);
    await sleep(500, signal); // the workers' close requests are answered
    const afterChurn = await sampler.sample(server, elapsed(), churn.stats.joins);
    progress(TOOL, `after churn: handles ${SoakSampler.handleKinds()}`);
    const checks: CountCheck[] = countChecks(browsers ? 'browsers only' : 'residents only', baseline, afterChurn);
    await browsers?.leaveAll();
    for (const resident of residents) resident.client.close();
    await settle(server, undefined, 0, signal);
    await sleep(500, signal);
    const allLeft = await sampler.sample(server, elapsed(), churn.stats.joins);
    checks.push(...countChecks('everyone left', idle, allLeft));
    const verdict = soakVerdict(samples, options.warmupMinutes * 60, checks);
    if (!settled) verdict.notes.push('the server did not return to the browsers-only state after churn');
    if (unsettled > 0) verdict.notes.push(`${unsettled} round(s) left synthetic peers behind for over ${SETTLE_TIMEOUT_MS / 1000} s`);
    const failedRejoins = browsers?.rejoins.filter((r) => r.videoMs === null).length ?? 0;
    if (failedRejoins > 0) {
      verdict.notes.push(`${failedRejoins} browser rejoin(s) did not decode the others' video`);
      verdict.pass = false;
    }

    const out = (text: string) => process.stdout.write(`${text}\n`);
    out('');
    out(`${churn.stats.joins} synthetic joins in ${churn.stats.rounds} rounds over ${(elapsed() / 60).toFixed(1)} min; fit over ${verdict.fittedSamples} samples, ${verdict.fittedJoins} joins after a ${options.warmupMinutes} min warm-up`);
    out(table(verdictColumns, verdict.metrics));
    out('');
    out(table(checkColumns, verdict.checks));
    if (browsers) {
      const times = browsers.rejoins.map((r) => (r.videoMs === null ? 'none' : `${r.videoMs} ms`));
      out(`\nbrowser rejoins (open → decoding every other page): ${times.length ? times.join(', ') : 'none in this run'}`);
    }
    if (churn.stats.failures.size > 0) {
      out('\nrefused or failed requests (count):');
      for (const [what, n] of [...churn.stats.failures].sort((a, b) => b[1] - a[1])) out(`  ${n}  ${what}`);
    }
    for (const note of verdict.notes) out(`note: ${note}`);
    out(`\nVERDICT: ${verdict.pass ? 'PASS' : 'FAIL'}`);
    const json = {
      tool: TOOL,
      date: new Date().toISOString(),
      interrupted: signal.aborted,
      machine: { ...machineInfo(), ...(browsers ? { chromium: browsers.version() } : {}) },
      options,
      joins: churn.stats.joins,
      rounds: churn.stats.rounds,
      pass: verdict.pass,
      growthPer1000Joins: Object.fromEntries(verdict.metrics.map((m) => [m.metric, round(m.per1000Joins, 3)])),
      checks: verdict.checks,
      failures: Object.fromEntries(churn.stats.failures),
      rejoins: browsers?.rejoins ?? [],
      samples: samples.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 2)]))),
      afterChurn,
      allLeft,
      notes: verdict.notes,
    };
    out(JSON.stringify(json));
    return verdict.pass ? 0 : 1;
  } finally {
    await cleanup.run();
  }
}

await runTool(TOOL, USAGE, main);
