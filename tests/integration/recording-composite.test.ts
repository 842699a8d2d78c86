/**
 * The composite, rendered for real by ffmpeg from track files placed on the recording's clock. Each
 * camera is one flat colour, so a frame's pixels say whose picture is where and when: a late joiner's
 * tile stays empty until they arrive, a paused camera shows the background, the speaker view follows
 * the floor and a shared screen. Audio is checked by where the silence falls.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { Recordings } from '../../sfu/src/recording/Recordings.ts';
import { readManifest, writeManifest } from '../../sfu/src/recording/manifest.ts';
import { makeRecording } from '../helpers/recording-fixtures.ts';

type Rgb = [number, number, number];

/** The average colour of a region of the frame at `seconds`. */
function colourAt(file: string, seconds: number, region: { x: number; y: number; w: number; h: number }): Rgb {
  const run = spawnSync('ffmpeg', ['-v', 'error', '-ss', String(seconds), '-i', file, '-frames:v', '1', '-vf', `crop=${region.w}:${region.h}:${region.x}:${region.y},scale=1:1:flags=area`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
  if (run.status !== 0) throw new Error(run.stderr.toString());
  return [run.stdout[0]!, run.stdout[1]!, run.stdout[2]!];
}

function named(rgb: Rgb): string {
  const [r, g, b] = rgb;
  if (r > 180 && g < 80 && b < 80) return 'red';
  if (b > 180 && r < 80 && g < 80) return 'blue';
  if (g > 90 && r < 80 && b < 80) return 'green';
  if (r < 50 && g < 50 && b < 60) return 'background';
  return `rgb(${rgb.join(',')})`;
}

function probe(file: string): { streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }>; duration: number } {
  const run = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,width,height:format=duration', '-of', 'json', file], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  const info = JSON.parse(run.stdout) as { streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }>; format: { duration: string } };
  return { streams: info.streams, duration: Number(info.format.duration) };
}

/** Silent spans (seconds) of a file's audio, as ffmpeg's silencedetect finds them. */
function silences(file: string): Array<[number, number]> {
  const run = spawnSync('ffmpeg', ['-v', 'info', '-nostats', '-i', file, '-af', 'silencedetect=n=-40dB:d=0.5', '-f', 'null', '-'], { encoding: 'utf8' });
  const starts = [...run.stderr.matchAll(/silence_start: ([\d.]+)/g)].map((m) => Number(m[1]));
  const ends = [...run.stderr.matchAll(/silence_end: ([\d.]+)/g)].map((m) => Number(m[1]));
  return starts.map((s, i) => [s, ends[i] ?? Number.POSITIVE_INFINITY]);
}

describe('composite render', { timeout: 120_000 }, () => {
  let dir: string;
  let recordings: Recordings;
  let folder: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rt-composite-'));
    const config = loadConfig({}, { recording: { dir, retentionDays: 0 } });
    recordings = new Recordings(config.recording, pino({ level: 'silent' }));
    folder = recordings.folderOf('room-1', '2026-01-01T10-00-00-000Z');
    // Ana all along (red) and speaking first; Bob (blue) from 2 s, camera off 4-5 s, speaking from 3 s;
    // Cy shares a screen (green) 5-7 s. Ana's microphone 0-3 s, Bob's 5-8 s: silence in between.
    await makeRecording(
      folder,
      [
        { file: '01-Ana-camera.webm', peerId: 'a', displayName: 'Ana', source: 'camera', startMs: 0, endMs: 8000, picture: 'color=c=red' },
        { file: '02-Ana-microphone.webm', peerId: 'a', displayName: 'Ana', source: 'microphone', startMs: 0, endMs: 3000, tone: 440 },
        { file: '03-Bob-camera.webm', peerId: 'b', displayName: 'Bob', source: 'camera', startMs: 2000, endMs: 8000, pauses: [[4000, 5000]], picture: 'color=c=blue' },
        { file: '04-Bob-microphone.webm', peerId: 'b', displayName: 'Bob', source: 'microphone', startMs: 5000, endMs: 8000, tone: 660 },
        { file: '05-Cy-screen.webm', peerId: 'c', displayName: 'Cy', source: 'screen', startMs: 5000, endMs: 7000, picture: 'color=c=green' },
      ],
      { roomId: 'room-1', durationMs: 8000, speakers: [{ atMs: 0, peerId: 'a' }, { atMs: 3000, peerId: 'b' }] },
    );
  });

  afterAll(async () => {
    await recordings?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('grid: a tile per camera and screen, each shown only while its track is live and unpaused, with mixed audio', async () => {
    recordings.jobs.enqueue(folder, 'grid');
    const status = await recordings.jobs.settled(folder, 'grid');
    expect(status).toMatchObject({ state: 'done', progress: 1 });
    const file = path.join(folder, 'composite-grid.mp4');
    const info = probe(file);
    expect(info.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    expect(info.streams.find((s) => s.codec_type === 'video')).toMatchObject({ width: 1280, height: 720 });
    expect(Math.abs(info.duration - 8)).toBeLessThan(0.2);
    // Three tiles: Ana top left, Bob top right, Cy's screen centred below. Sample inside each tile.
    const ana = { x: 200, y: 150, w: 200, h: 100 };
    const bob = { x: 840, y: 150, w: 200, h: 100 };
    const cy = { x: 520, y: 510, w: 200, h: 100 };
    const at = (t: number) => [ana, bob, cy].map((r) => named(colourAt(file, t, r)));
    expect(at(1)).toEqual(['red', 'background', 'background']);
    expect(at(3)).toEqual(['red', 'blue', 'background']);
    expect(at(4.5)).toEqual(['red', 'background', 'background']);
    expect(at(6)).toEqual(['red', 'blue', 'green']);
    expect(at(7.5)).toEqual(['red', 'blue', 'background']);
    // Ana speaks until 3 s and Bob from 5 s: one silence, between.
    const silent = silences(file);
    expect(silent).toHaveLength(1);
    expect(silent[0]![0]).toBeGreaterThan(2.7);
    expect(silent[0]![0]).toBeLessThan(3.3);
    expect(silent[0]![1]).toBeGreaterThan(4.7);
    expect(silent[0]![1]).toBeLessThan(5.3);
    // The filter script and label files are working files: gone once done.
    expect(readdirSync(folder).filter((f) => f.startsWith('composite-') && !f.endsWith('.mp4'))).toEqual([]);
  });

  it('speaker view: whoever has the floor fills the frame, a live screen share wins, a paused camera gives way', async () => {
    recordings.jobs.enqueue(folder, 'speaker');
    expect(await recordings.jobs.settled(folder, 'speaker')).toMatchObject({ state: 'done' });
    const file = path.join(folder, 'composite-speaker.mp4');
    const centre = { x: 540, y: 260, w: 200, h: 200 };
    const at = (t: number) => named(colourAt(file, t, centre));
    expect([1, 3.5, 4.5, 6, 7.5].map(at)).toEqual(['red', 'blue', 'red', 'green', 'blue']);
  });

  it('the list shows both composites with links, sizes and progress; a recording cut short by a crash still renders', async () => {
    const [summary] = recordings.list('room-1');
    expect(summary).toMatchObject({ id: '2026-01-01T10-00-00-000Z', durationMs: 8000, expiresAt: null });
    expect(summary!.tracks).toHaveLength(5);
    expect(summary!.composites.map((c) => [c.layout, c.state, typeof c.url, (c.sizeBytes ?? 0) > 0])).toEqual([
      ['grid', 'done', 'string', true],
      ['speaker', 'done', 'string', true],
    ]);

    // The server died mid-recording: no stop time, no track ends. The files' last writes tell the length.
    const crashed = recordings.folderOf('room-1', '2026-01-01T11-00-00-000Z');
    const manifest = await makeRecording(crashed, [{ file: '01-Ana-camera.webm', peerId: 'a', displayName: 'Ana', source: 'camera', startMs: 0, endMs: 3000, picture: 'color=c=red' }], { roomId: 'room-1', durationMs: 3000 });
    writeManifest(crashed, { ...manifest, durationMs: null, tracks: manifest.tracks.map((t) => ({ ...t, endMs: null })) });
    const lastWrite = new Date(manifest.startedAt + 3000);
    utimesSync(path.join(crashed, '01-Ana-camera.webm'), lastWrite, lastWrite);
    expect(recordings.render('room-1', '2026-01-01T11-00-00-000Z', 'grid')).toMatchObject({ state: expect.stringMatching(/queued|rendering/) });
    expect(await recordings.jobs.settled(crashed, 'grid')).toMatchObject({ state: 'done' });
    expect(Math.abs(probe(path.join(crashed, 'composite-grid.mp4')).duration - 3)).toBeLessThan(0.3);
    expect(readManifest(crashed).durationMs).toBeNull(); // the manifest is the record: not rewritten
  });

  it('a render that fails says so, and leaves no partial file', async () => {
    const broken = recordings.folderOf('room-1', '2026-01-01T12-00-00-000Z');
    await makeRecording(broken, [{ file: '01-Ana-camera.webm', peerId: 'a', displayName: 'Ana', source: 'camera', startMs: 0, endMs: 2000, picture: 'color=c=red' }], { roomId: 'room-1', durationMs: 2000 });
    writeFileSync(path.join(broken, '01-Ana-camera.webm'), 'not a video');
    recordings.jobs.enqueue(broken, 'grid');
    const status = await recordings.jobs.settled(broken, 'grid');
    expect(status.state).toBe('failed');
    expect(status.error).toBeTruthy();
    expect(readdirSync(broken).filter((f) => f.startsWith('composite'))).toEqual([]);
  });

  it('retention deletes recordings older than the setting (checked at start and hourly), keeping recent and live ones', async () => {
    const day = 24 * 60 * 60 * 1000;
    const now = Date.now();
    const config = loadConfig({}, { recording: { dir: path.join(dir, 'retention'), retentionDays: 7 } });
    const place = (id: string, daysAgo: number) => {
      const folder = path.join(config.recording.dir, 'room-2', id);
      mkdirSync(folder, { recursive: true });
      writeManifest(folder, { roomId: 'room-2', startedAt: now - daysAgo * day, byName: 'h', durationMs: 1000, tracks: [], speakers: [] });
      return folder;
    };
    const old = place('2025-01-01T00-00-00-000Z', 8);
    const recent = place('2025-01-02T00-00-00-000Z', 6);
    mkdirSync(path.join(config.recording.dir, 'room-2', 'not-a-recording'));
    let clock = now;
    const kept = new Recordings(config.recording, pino({ level: 'silent' }), { now: () => clock });
    expect(existsSync(old)).toBe(false); // swept at start
    expect(existsSync(recent)).toBe(true);
    expect(existsSync(path.join(config.recording.dir, 'room-2', 'not-a-recording'))).toBe(true); // not ours: left alone
    expect(kept.list('room-2').map((r) => [r.id, r.expiresAt])).toEqual([['2025-01-02T00-00-00-000Z', now - 6 * day + 7 * day]]);
    kept.recordingStarted(recent); // under way: never swept
    clock = now + 2 * day;
    expect(kept.sweep()).toBe(0);
    expect(existsSync(recent)).toBe(true);
    await kept.close();
    const forever = new Recordings({ ...config.recording, retentionDays: 0 }, pino({ level: 'silent' }), { now: () => now + 1000 * day });
    expect(forever.sweep()).toBe(0);
    expect(existsSync(recent)).toBe(true);
    await forever.close();
  });
});
