/**
 * What recording costs, in two parts. Recorder: an in-process server with a meeting of N people, each
 * a synthetic publisher (ffmpeg sending VP8 and Opus as a browser would), recorded for S seconds; the
 * recorder ffmpeg processes' CPU is read from /proc, per track and per room, with the disk written.
 * Composite: a P-person recording of M minutes (moving test pictures, tones), made with ffmpeg, then
 * rendered in each layout; how much faster than real time each render ran. See docs/benchmarks.md.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { types } from 'mediasoup';
import { pino } from 'pino';
import { COMPOSITE_LAYOUTS, type MeetingKeys } from '../../shared/index.ts';
import { loadConfig } from '../../config/index.ts';
import { Recordings } from '../../sfu/src/recording/Recordings.ts';
import { readManifest } from '../../sfu/src/recording/manifest.ts';
import { TestClient } from '../helpers/client.ts';
import { joinPeer } from '../helpers/meeting.ts';
import { type FixtureTrack, makeRecording } from '../helpers/recording-fixtures.ts';
import { startTestServer } from '../helpers/server.ts';
import { Cleanup } from './cleanup.ts';
import { ToolError, positiveInt, positiveNumber, progress, runTool, sleep } from './cli.ts';
import { FfmpegSource, requireFfmpeg } from './ffmpeg-source.ts';
import { processCpuSeconds } from './linux-proc.ts';
import { machineInfo } from './machine.ts';
import { createPublisher, waitForIngress } from './synthetic-publisher.ts';
import { type Column, cell, table } from './table.ts';

const TOOL = 'recording';

const USAGE = `Usage: node --import tsx tests/bench/recording.ts [options]

Part 1, the recorders: a meeting of N synthetic publishers (ffmpeg sending VP8 640x360 at 15 fps,
600 kbit/s, and Opus) on an in-process server, recorded for S seconds; prints the CPU the recorder
processes used (share of one core) per track and for the room, and what they wrote.
Part 2, the composite: a recording of P people for M minutes is made with ffmpeg, then rendered in
each layout (grid, speaker view) to 1280x720 H.264 and AAC; prints the render time and how many
times faster than real time it ran.

  --people N        publishers in the recorded meeting (default 4)
  --seconds S       how long to record them (default 60)
  --render-people P people in the composite's recording (default 4)
  --minutes M       length of the composite's recording (default 10)
  --skip-recorder   part 2 only
  --skip-composite  part 1 only
  -h, --help        this text

Progress goes to stderr; stdout gets the tables, then one line of JSON.
`;

interface RecorderRow {
  track: string;
  cpuPercent: number;
  mbPerMinute: number;
}

async function measureRecorders(people: number, seconds: number, signal: AbortSignal) {
  const cleanup = new Cleanup(TOOL);
  try {
    return await recordMeeting(people, seconds, cleanup, signal);
  } finally {
    await cleanup.run(); // publishers and server stop before the composite is timed
  }
}

async function recordMeeting(people: number, seconds: number, cleanup: Cleanup, signal: AbortSignal) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rt-bench-recording-'));
  cleanup.add('the recordings folder', () => rmSync(dir, { recursive: true, force: true }));
  const server = await startTestServer({ recording: { dir, minFreeMb: 1, ffmpeg: 'ffmpeg', composite: 'none' } });
  cleanup.add('the server', () => server.close());
  const creator = await TestClient.connect(server.url);
  const meeting: MeetingKeys = await creator.ok('createMeeting', {});
  creator.close();
  const host = await joinPeer(server.url, meeting.roomId, 'Host', { key: meeting.hostKey, ready: false });
  cleanup.add('the host', () => host.client.close());
  const room = server.server.registry.get(meeting.roomId)!;
  for (let i = 0; i < people; i += 1) {
    const person = i === 0 ? host : await joinPeer(server.url, meeting.roomId, `Person ${i + 1}`, { ready: false });
    if (i > 0) cleanup.add(`person ${i + 1}`, () => person.client.close());
    const peer = room.peers.get(person.join.peerId)!;
    const publisher = await createPublisher(room.routers.main, true, { keyframeRequests: true });
    cleanup.add(`publisher ${i + 1}`, () => publisher.close());
    for (const producer of publisher.producers) {
      producer.appData = { peerId: peer.id, source: producer.kind === 'video' ? 'camera' : 'microphone' };
      peer.addProducer(producer as types.Producer<{ peerId: string; source: 'camera' | 'microphone' }>);
    }
    const source = FfmpegSource.start({ video: publisher.video, audio: publisher.audio!, width: 640, height: 360, fps: 15, videoBitrate: 600_000, maxSeconds: seconds + 120 });
    cleanup.add(`ffmpeg source ${i + 1}`, () => source.stop());
    await waitForIngress(publisher.producers, 15_000, signal, () => undefined);
  }
  // The worker's share: what it spends forwarding to the recorders, against a window without them.
  const workerPid = room.routers.main.appData.workerPid;
  const workerCpu = (ms: number) => {
    const before = processCpuSeconds(workerPid) ?? Number.NaN;
    const began = Date.now();
    return sleep(ms, signal).then(() => ((processCpuSeconds(workerPid) ?? Number.NaN) - before) / ((Date.now() - began) / 1000) * 100);
  };
  progress(TOOL, `${people} publishers sending; ${Math.min(30, seconds)} s without recording, then ${seconds} s recorded`);
  const workerIdle = await workerCpu(Math.min(30, seconds) * 1000);
  await host.client.ok('startRecording', {});
  await sleep(3_000, signal); // recorders up, first keyframes in
  const recorders = await room.recording.recorders();
  const start = new Map(recorders.map((r) => [r, processCpuSeconds(r.pid!) ?? 0]));
  const began = Date.now();
  const workerRecording = await workerCpu(seconds * 1000);
  const elapsed = (Date.now() - began) / 1000;
  const used = new Map(recorders.map((r) => [r, (processCpuSeconds(r.pid!) ?? Number.NaN) - start.get(r)!]));
  await host.client.ok('stopRecording', {});
  const manifest = readManifest(room.recording.folder);
  const rows: RecorderRow[] = recorders.map((r) => {
    const entry = manifest.tracks.find((t) => t.file === path.basename(r.file))!;
    const writtenSeconds = (entry.endMs! - (entry.mediaStartMs ?? entry.startMs)) / 1000;
    return { track: entry.file, cpuPercent: (used.get(r)! / elapsed) * 100, mbPerMinute: statSync(r.file).size / 1e6 / (writtenSeconds / 60) };
  });
  return { rows, totalCpuPercent: rows.reduce((n, r) => n + r.cpuPercent, 0), elapsed, workerIdle, workerRecording };
}

async function measureComposite(people: number, minutes: number, cleanup: Cleanup) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rt-bench-composite-'));
  cleanup.add('the composite folder', () => rmSync(dir, { recursive: true, force: true }));
  const durationMs = minutes * 60_000;
  const tracks: FixtureTrack[] = [];
  for (let i = 0; i < people; i += 1) {
    const name = `Person ${i + 1}`;
    // Late joiners, as in a real meeting: person k arrives k * 20 s in.
    const startMs = i * 20_000;
    tracks.push(
      { file: `${String(2 * i + 1).padStart(2, '0')}-p${i + 1}-camera.webm`, peerId: `p${i}`, displayName: name, source: 'camera', startMs, endMs: durationMs, picture: 'testsrc2' },
      { file: `${String(2 * i + 2).padStart(2, '0')}-p${i + 1}-microphone.webm`, peerId: `p${i}`, displayName: name, source: 'microphone', startMs, endMs: durationMs, tone: 300 + 110 * i },
    );
  }
  // The floor changes hands every 30 s.
  const speakers = Array.from({ length: Math.floor(durationMs / 30_000) }, (_, k) => ({ atMs: k * 30_000, peerId: `p${k % people}` }));
  progress(TOOL, `making a ${people}-person, ${minutes}-minute recording to render (ffmpeg, once)`);
  const folder = path.join(dir, 'room', '2026-01-01T00-00-00-000Z');
  await makeRecording(folder, tracks, { durationMs, speakers });
  const config = loadConfig({}, { recording: { dir, retentionDays: 0 } });
  const recordings = new Recordings(config.recording, pino({ level: 'silent' }));
  cleanup.add('the render queue', () => recordings.close());
  const rows: Array<{ layout: string; renderSeconds: number; speed: number; loadAverage: number }> = [];
  for (const layout of COMPOSITE_LAYOUTS) {
    progress(TOOL, `rendering the ${layout} composite`);
    const started = Date.now();
    recordings.jobs.enqueue(folder, layout);
    const status = await recordings.jobs.settled(folder, layout);
    if (status.state !== 'done') throw new ToolError(`the ${layout} render failed: ${status.error ?? ''}`);
    const renderSeconds = (Date.now() - started) / 1000;
    // The render shares the machine: the load says how much else ran meanwhile.
    rows.push({ layout, renderSeconds, speed: durationMs / 1000 / renderSeconds, loadAverage: Number(os.loadavg()[0]!.toFixed(2)) });
  }
  return rows;
}

await runTool(TOOL, USAGE, async (signal) => {
  const { values } = parseArgs({
    options: {
      people: { type: 'string', default: '4' },
      seconds: { type: 'string', default: '60' },
      'render-people': { type: 'string', default: '4' },
      minutes: { type: 'string', default: '10' },
      'skip-recorder': { type: 'boolean', default: false },
      'skip-composite': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const people = positiveInt('people', values.people);
  const seconds = positiveInt('seconds', values.seconds);
  const renderPeople = positiveInt('render-people', values['render-people']);
  const minutes = positiveNumber('minutes', values.minutes);
  requireFfmpeg(true);
  const cleanup = new Cleanup(TOOL);
  const summary: Record<string, unknown> = { tool: TOOL, machine: machineInfo() };
  try {
    if (!values['skip-recorder']) {
      const recorder = await measureRecorders(people, seconds, signal);
      const columns: Column<RecorderRow>[] = [
        { header: 'track', width: 28, value: (r) => r.track },
        { header: 'recorder CPU %', width: 14, value: (r) => cell(r.cpuPercent, 2) },
        { header: 'MB/min', width: 7, value: (r) => cell(r.mbPerMinute, 2) },
      ];
      process.stdout.write(`Recorders: ${people} people, ${seconds} s (CPU as a share of one core)\n${table(columns, recorder.rows)}\n`);
      process.stdout.write(`room total: ${recorder.totalCpuPercent.toFixed(2)} % of one core for ${recorder.rows.length} tracks\n`);
      process.stdout.write(`mediasoup worker: ${recorder.workerIdle.toFixed(2)} % of a core without recording, ${recorder.workerRecording.toFixed(2)} % while recording\n\n`);
      summary.recorder = { people, seconds, totalCpuPercent: recorder.totalCpuPercent, workerIdlePercent: recorder.workerIdle, workerRecordingPercent: recorder.workerRecording, tracks: recorder.rows };
    }
    if (!values['skip-composite'] && !signal.aborted) {
      const rows = await measureComposite(renderPeople, minutes, cleanup);
      const columns: Column<(typeof rows)[number]>[] = [
        { header: 'layout', width: 8, value: (r) => r.layout },
        { header: 'render s', width: 9, value: (r) => cell(r.renderSeconds, 1) },
        { header: 'x real time', width: 11, value: (r) => cell(r.speed, 2) },
        { header: 'load avg (1 min)', width: 16, value: (r) => cell(r.loadAverage, 2) },
      ];
      process.stdout.write(`Composite: ${renderPeople} people, ${minutes} min, 1280x720 H.264 + AAC\n${table(columns, rows)}\n`);
      summary.composite = { people: renderPeople, minutes, layouts: rows };
    }
  } finally {
    await cleanup.run();
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
});
