/**
 * The ffmpeg command that renders a recording's track files into one video with mixed audio: a grid
 * of everyone's cameras and screens, or the active-speaker view (a shared screen while one is live,
 * else whoever has the floor). Pure: a manifest in, arguments and a filter script out, so the layout
 * is tested without rendering.
 *
 * Time: every track file starts at its own first frame. Its place on the recording's clock is the
 * manifest's `mediaStartMs` (the first keyframe or packet the recorder got), or `startMs` for
 * recordings made before that was kept. Paused spans (a camera turned off) show the background.
 */
import type { Manifest, ManifestTrack } from './manifest.ts';

import type { CompositeLayout } from '../../../shared/index.ts';

export type { CompositeLayout };

export const COMPOSITE_SIZE = { width: 1280, height: 720 } as const;
const FPS = 25;
const BACKGROUND = '0x1b1f27';
const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
export const FILTER_SCRIPT = 'composite-filter.txt';

export interface CompositeInput {
  track: ManifestTrack;
  /** The track file, relative to the recording folder (ffmpeg runs there). */
  path: string;
}

export interface CompositeCommand {
  /** ffmpeg arguments, to run in the recording folder; the filter graph is read from FILTER_SCRIPT. */
  args: string[];
  filterScript: string;
  /**
   * Label files the filter script names, relative to the folder. drawtext reads a person's name from a
   * file, so what people type never becomes part of the filter graph.
   */
  labels: Array<{ path: string; text: string }>;
  durationSeconds: number;
}

interface Span {
  from: number;
  to: number;
}

const seconds = (ms: number) => Math.max(0, ms) / 1000;
const fixed = (n: number) => Number(n.toFixed(3)).toString();

function trackStartMs(track: ManifestTrack): number {
  return track.mediaStartMs ?? track.startMs;
}

/** When a track shows a picture (seconds): from its start to its end, minus its pauses. */
export function visibleSpans(track: ManifestTrack, durationMs: number): Span[] {
  const end = Math.min(track.endMs ?? durationMs, durationMs);
  const spans: Span[] = [];
  let from = trackStartMs(track);
  for (const [pausedAt, resumedAt] of [...track.pauses].sort((a, b) => a[0] - b[0])) {
    if (pausedAt > from) spans.push({ from, to: Math.min(pausedAt, end) });
    from = Math.max(from, resumedAt ?? end);
  }
  if (end > from) spans.push({ from, to: end });
  return spans.filter((s) => s.to > s.from).map((s) => ({ from: seconds(s.from), to: seconds(s.to) }));
}

function enableExpression(spans: Span[]): string {
  return spans.map((s) => `between(t,${fixed(s.from)},${fixed(s.to)})`).join('+');
}

function covers(spans: Span[], t: number): boolean {
  return spans.some((s) => t >= s.from && t < s.to);
}

/**
 * The speaker view's focus over time: which video track fills the frame in each span. A live screen
 * share wins (the latest started); else the camera of whoever has the floor; else the camera shown
 * last, while it is live; else the first live camera.
 */
export function speakerFocus(manifest: Manifest, videos: ManifestTrack[], durationMs: number): Map<ManifestTrack, Span[]> {
  const visible = new Map(videos.map((t) => [t, visibleSpans(t, durationMs)] as const));
  const cuts = new Set<number>([0, seconds(durationMs)]);
  for (const spans of visible.values()) for (const s of spans) cuts.add(s.from).add(s.to);
  for (const change of manifest.speakers) cuts.add(seconds(change.atMs));
  const times = [...cuts].filter((t) => t <= seconds(durationMs)).sort((a, b) => a - b);
  const speakerAt = (t: number): string | null => {
    let peerId: string | null = null;
    for (const change of manifest.speakers) if (seconds(change.atMs) <= t) peerId = change.peerId;
    return peerId;
  };
  const focus = new Map<ManifestTrack, Span[]>();
  let previous: ManifestTrack | undefined;
  for (let i = 0; i + 1 < times.length; i += 1) {
    const from = times[i]!;
    const to = times[i + 1]!;
    const live = videos.filter((t) => covers(visible.get(t)!, from));
    const screens = live.filter((t) => t.source === 'screen').sort((a, b) => trackStartMs(b) - trackStartMs(a));
    const cameras = live.filter((t) => t.source !== 'screen');
    const speaker = speakerAt(from);
    const chosen =
      screens[0] ??
      cameras.find((t) => t.peerId === speaker) ??
      (previous && cameras.includes(previous) ? previous : undefined) ??
      cameras[0];
    if (!chosen) continue;
    previous = chosen;
    const spans = focus.get(chosen) ?? [];
    const last = spans.at(-1);
    if (last && Math.abs(last.to - from) < 1e-9) last.to = to;
    else spans.push({ from, to });
    focus.set(chosen, spans);
  }
  return focus;
}

/** Grid cells for n tiles: as square as the count allows, 16:9 frame, even sizes (yuv420p). */
export function gridCells(n: number): Array<{ x: number; y: number; w: number; h: number }> {
  if (n === 0) return [];
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const w = Math.floor(COMPOSITE_SIZE.width / cols / 2) * 2;
  const h = Math.floor(COMPOSITE_SIZE.height / rows / 2) * 2;
  const top = Math.floor((COMPOSITE_SIZE.height - rows * h) / 2);
  return Array.from({ length: n }, (_, i) => {
    const row = Math.floor(i / cols);
    const inRow = Math.min(cols, n - row * cols); // the last row is centred
    const left = Math.floor((COMPOSITE_SIZE.width - inRow * w) / 2);
    return { x: left + (i % cols) * w, y: top + row * h, w, h };
  });
}

function label(name: string, source: string): string {
  return source === 'screen' ? `${name} (screen)` : name;
}

/**
 * Builds the render: `inputs` are the track files that exist (a track whose recorder never wrote is
 * left out by the caller), `output` the file to write, relative to the recording folder.
 */
export function compositeCommand(options: {
  manifest: Manifest;
  inputs: CompositeInput[];
  durationMs: number;
  layout: CompositeLayout;
  output: string;
}): CompositeCommand {
  const { manifest, inputs, durationMs, layout, output } = options;
  const duration = seconds(durationMs);
  const videos = inputs.filter((i) => i.track.kind === 'video');
  const audios = inputs.filter((i) => i.track.kind === 'audio');
  const args: string[] = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'];
  const filters: string[] = [];
  const labels: CompositeCommand['labels'] = [];
  const labelFile = (text: string) => {
    const file = `composite-label-${labels.length}.txt`;
    labels.push({ path: file, text });
    return file;
  };
  const drawLabel = (file: string, x: number, y: number, size: number, enable: string) =>
    `drawtext=fontfile=${FONT}:textfile='${file}':x=${x}+8:y=${y}+8:fontsize=${size}:fontcolor=white:box=1:boxcolor=black@0.55:boxborderw=6${enable ? `:enable='${enable}'` : ''}`;

  let inputIndex = 0;
  const addInput = (input: CompositeInput): number => {
    // Each file may change resolution (simulcast layers): scale adapts per frame instead of the
    // whole graph being rebuilt.
    args.push('-reinit_filter', '0', '-i', input.path);
    return inputIndex++;
  };

  filters.push(`color=c=${BACKGROUND}:s=${COMPOSITE_SIZE.width}x${COMPOSITE_SIZE.height}:r=${FPS}:d=${fixed(duration)}[base0]`);
  let base = 'base0';
  let step = 0;
  const overlay = (stream: string, x: number, y: number, enable: string) => {
    const next = `base${++step}`;
    filters.push(`[${base}][${stream}]overlay=x=${x}:y=${y}:eof_action=pass:enable='${enable}'[${next}]`);
    base = next;
  };
  const placed = (index: number, input: CompositeInput, w: number, h: number): string => {
    const name = `v${index}`;
    filters.push(
      `[${index}:v]setpts=PTS-STARTPTS+${fixed(seconds(trackStartMs(input.track)))}/TB,` +
        `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:color=${BACKGROUND}[${name}]`,
    );
    return name;
  };
  const textLayers: string[] = [];

  if (layout === 'grid') {
    // One tile per person's camera and per screen share, in order of appearance.
    const tiles = new Map<string, CompositeInput[]>();
    for (const input of [...videos].sort((a, b) => trackStartMs(a.track) - trackStartMs(b.track))) {
      const key = `${input.track.peerId}:${input.track.source}`;
      tiles.set(key, [...(tiles.get(key) ?? []), input]);
    }
    const cells = gridCells(tiles.size);
    [...tiles.values()].forEach((tileInputs, i) => {
      const cell = cells[i]!;
      const shown: Span[] = [];
      for (const input of tileInputs) {
        const spans = visibleSpans(input.track, durationMs);
        if (spans.length === 0) continue;
        overlay(placed(addInput(input), input, cell.w, cell.h), cell.x, cell.y, enableExpression(spans));
        shown.push(...spans);
      }
      const first = tileInputs[0]!.track;
      const on = { from: Math.min(...tileInputs.map((t) => seconds(trackStartMs(t.track)))), to: Math.max(...tileInputs.map((t) => seconds(Math.min(t.track.endMs ?? durationMs, durationMs)))) };
      if (on.to > on.from) textLayers.push(drawLabel(labelFile(label(first.displayName, first.source)), cell.x, cell.y, cell.h > 300 ? 24 : 18, enableExpression([on])));
    });
  } else {
    const focus = speakerFocus(manifest, videos.map((v) => v.track), durationMs);
    for (const input of videos) {
      const spans = focus.get(input.track);
      if (!spans?.length) continue;
      const enable = enableExpression(spans);
      overlay(placed(addInput(input), input, COMPOSITE_SIZE.width, COMPOSITE_SIZE.height), 0, 0, enable);
      textLayers.push(drawLabel(labelFile(label(input.track.displayName, input.track.source)), 16, COMPOSITE_SIZE.height - 64, 28, enable));
    }
  }
  filters.push(`[${base}]${textLayers.length ? textLayers.join(',') : 'null'},format=yuv420p[vout]`);

  const mixed: string[] = [];
  for (const input of audios) {
    const index = addInput(input);
    const delayMs = Math.round(Math.max(0, trackStartMs(input.track)));
    // Gaps in a track (silence suppression, a muted microphone) become silence, by its timestamps.
    filters.push(`[${index}:a]asetpts=PTS-STARTPTS,aresample=48000:async=1:first_pts=0,aformat=channel_layouts=stereo,adelay=delays=${delayMs}:all=1[a${index}]`);
    mixed.push(`[a${index}]`);
  }
  if (mixed.length === 0) filters.push(`anullsrc=r=48000:cl=stereo,atrim=duration=${fixed(duration)}[aout]`);
  else if (mixed.length === 1) filters.push(`${mixed[0]}apad[aout]`);
  else filters.push(`${mixed.join('')}amix=inputs=${mixed.length}:duration=longest:dropout_transition=0:normalize=0,alimiter=limit=0.95,apad[aout]`);

  args.push(
    '-filter_complex_script', FILTER_SCRIPT,
    '-map', '[vout]', '-map', '[aout]',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p', '-r', String(FPS),
    '-c:a', 'aac', '-b:a', '128k', '-ar', '48000',
    '-t', fixed(duration), '-movflags', '+faststart',
    '-progress', 'pipe:1', '-nostats',
    '-f', 'mp4', output,
  );
  return { args, filterScript: `${filters.join(';\n')}\n`, labels, durationSeconds: duration };
}
