/**
 * Recording folders made without a meeting: track files encoded by ffmpeg as the recorder would
 * have written them (VP8 or Opus in WebM), and a manifest that places them. The composite test
 * paints each camera one flat colour so a frame's pixels tell whose picture is where; the render
 * benchmark uses moving test patterns.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { type Manifest, type ManifestTrack, writeManifest } from '../../sfu/src/recording/manifest.ts';

export interface FixtureTrack {
  file: string;
  peerId: string;
  displayName: string;
  source: 'camera' | 'microphone' | 'screen';
  startMs: number;
  endMs: number;
  pauses?: Array<[number, number]>;
  /** Video: a lavfi source (`color=c=red`, `testsrc2`); audio: a sine frequency. */
  picture?: string;
  tone?: number;
  size?: string;
}

function run(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    ffmpeg.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    ffmpeg.once('error', reject);
    ffmpeg.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg ${args.join(' ')}: ${stderr}`))));
  });
}

/** A clip this long is encoded once per track, then repeated (copied, not encoded) to the full length. */
const LOOP_CLIP_SECONDS = 20;

/**
 * Encodes one track file as the recorder writes it (a paused span has no frames in the file). A long
 * track is a short clip encoded once and repeated without re-encoding, so a 10-minute fixture costs
 * seconds, not minutes.
 */
export async function encodeTrack(folder: string, track: FixtureTrack): Promise<void> {
  const seconds = (track.endMs - track.startMs) / 1000;
  const out = path.join(folder, track.file);
  const looped = seconds > LOOP_CLIP_SECONDS * 1.5 && !track.pauses?.length;
  const target = looped ? `${out}.clip.webm` : out;
  const length = looped ? LOOP_CLIP_SECONDS : seconds;
  if (track.source === 'microphone') {
    await run(['-f', 'lavfi', '-i', `sine=f=${track.tone ?? 440}:d=${length}`, '-ac', '2', '-c:a', 'libopus', '-b:a', '32k', target]);
  } else {
    const picture = track.picture ?? 'testsrc2';
    // Frames inside pauses are dropped, with their timestamps kept: a gap, as a paused producer leaves.
    const gaps = (track.pauses ?? []).map(([from, to]) => `between(t,${(from - track.startMs) / 1000},${(to - track.startMs) / 1000})`);
    const select = gaps.length ? `,select='not(${gaps.join('+')})'` : '';
    await run([
      '-f', 'lavfi', '-i', `${picture}${picture.includes('=') ? ':' : '='}s=${track.size ?? '640x360'}:r=15:d=${length}`,
      '-vf', `format=yuv420p${select}`, '-fps_mode', 'passthrough',
      '-c:v', 'libvpx', '-b:v', '300k', '-deadline', 'realtime', '-cpu-used', '8', '-g', '30',
      target,
    ]);
  }
  if (looped) {
    await run(['-stream_loop', String(Math.ceil(seconds / LOOP_CLIP_SECONDS)), '-i', target, '-c', 'copy', '-t', String(seconds), out]);
    rmSync(target);
  }
}

/** A recording folder: the tracks encoded (in parallel) and its manifest. */
export async function makeRecording(folder: string, tracks: FixtureTrack[], extra: Partial<Manifest> & { durationMs: number }): Promise<Manifest> {
  mkdirSync(folder, { recursive: true });
  await Promise.all(tracks.map((t) => encodeTrack(folder, t)));
  const manifest: Manifest = {
    roomId: 'fixture',
    startedAt: Date.now(),
    byName: 'Fixture',
    tracks: tracks.map(
      (t): ManifestTrack => ({
        file: t.file,
        peerId: t.peerId,
        displayName: t.displayName,
        source: t.source,
        kind: t.source === 'microphone' ? 'audio' : 'video',
        mimeType: t.source === 'microphone' ? 'audio/opus' : 'video/VP8',
        startMs: t.startMs,
        mediaStartMs: t.startMs,
        endMs: t.endMs,
        pauses: t.pauses ?? [],
      }),
    ),
    speakers: [],
    ...extra,
  };
  writeManifest(folder, manifest);
  return manifest;
}
