/**
 * A real encoder as the synthetic publisher's camera: Debian's ffmpeg encodes a test pattern to VP8
 * (and a tone to Opus) once into a short clip, then streams that clip in a loop, unchanged, as plain
 * RTP to the publisher's PlainTransports on 127.0.0.1. Encoding live would cost a whole core on a
 * 2-core machine and starve the server being measured.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ToolError } from './cli.ts';

export interface RtpTarget {
  port: number;
  ssrc: number;
  payloadType: number;
}

export interface FfmpegOptions {
  video: RtpTarget;
  audio?: RtpTarget;
  width: number;
  height: number;
  fps: number;
  videoBitrate: number;
  /** ffmpeg stops by itself after this long, even if this process is killed before it can stop it. */
  maxSeconds: number;
}

const INSTALL_HINT = 'Run `bash scripts/install.sh --bench` as root (or `apt-get install ffmpeg`).';

/** Fails with an installation hint unless ffmpeg and its VP8 (and Opus) encoders are present; returns its version. */
export function requireFfmpeg(withOpus: boolean): string {
  const encoders = spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' });
  if (encoders.error) {
    const missing = (encoders.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ToolError(missing ? `ffmpeg is not installed. ${INSTALL_HINT}` : `cannot run ffmpeg: ${encoders.error.message}`);
  }
  const needed = withOpus ? ['libvpx', 'libopus'] : ['libvpx'];
  for (const encoder of needed) {
    if (!new RegExp(`\\s${encoder}\\s`).test(encoders.stdout)) throw new ToolError(`this ffmpeg has no ${encoder} encoder. ${INSTALL_HINT}`);
  }
  const version = spawnSync('ffmpeg', ['-hide_banner', '-version'], { encoding: 'utf8' });
  const match = /^ffmpeg version (\S+)/.exec(version.stdout);
  return match ? `ffmpeg ${match[1]}` : 'ffmpeg (unknown version)';
}

function rtpOutput(target: RtpTarget): string[] {
  return [
    '-payload_type', String(target.payloadType),
    '-ssrc', String(target.ssrc),
    // The transports use comedia: they learn ffmpeg's address from the first packet. Sender reports
    // would come first, from ffmpeg's separate RTCP socket, and pin the wrong port; forwarding does
    // not need them.
    '-rtpflags', 'skip_rtcp',
    '-f', 'rtp',
    // 1200-byte packets, as WebRTC senders use, rather than ffmpeg's 1472.
    `rtp://127.0.0.1:${target.port}?pkt_size=1200`,
  ];
}

const CLIP_SECONDS = 10;

/**
 * Encodes (once, cached in the temp folder by its parameters) a clip of the test pattern with a
 * keyframe every second: new consumers start forwarding at a keyframe, and a file cannot answer
 * mediasoup's keyframe requests.
 */
export function encodeClip(options: Pick<FfmpegOptions, 'width' | 'height' | 'fps' | 'videoBitrate'>): string {
  const { width, height, fps, videoBitrate } = options;
  const dir = path.join(os.tmpdir(), 'roundtable-bench');
  const clip = path.join(dir, `testsrc-${width}x${height}-${fps}fps-${videoBitrate}bps.mkv`);
  if (existsSync(clip)) return clip;
  mkdirSync(dir, { recursive: true });
  const partial = `${clip}.partial.mkv`;
  const result = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(CLIP_SECONDS),
    '-c:v', 'libvpx', '-b:v', String(videoBitrate), '-deadline', 'realtime', '-cpu-used', '8', '-g', String(fps),
    '-c:a', 'libopus', '-ac', '2', '-ar', '48000', '-b:a', '32k',
    partial,
  ], { encoding: 'utf8' });
  if (result.status !== 0) throw new ToolError(`ffmpeg could not encode the test clip: ${result.stderr || result.error?.message}`);
  renameSync(partial, clip);
  return clip;
}

function ffmpegArgs(options: FfmpegOptions, clip: string): string[] {
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
  args.push('-re', '-stream_loop', '-1', '-i', clip, '-t', String(options.maxSeconds));
  args.push('-map', '0:v', '-c:v', 'copy', ...rtpOutput(options.video));
  if (options.audio) args.push('-map', '0:a', '-c:a', 'copy', ...rtpOutput(options.audio));
  return args;
}

const STDERR_LINES_KEPT = 20;

export class FfmpegSource {
  readonly #child: ChildProcess;
  readonly #stderr: string[] = [];
  readonly #exited: Promise<void>;
  /** How ffmpeg ended ("code 1", "signal SIGKILL"); undefined while it runs. */
  #exitStatus: string | undefined;
  #stopping = false;
  /** Last resort: a synchronous kill when Node exits any other way (an uncaught error, process.exit). */
  readonly #killOnExit = (): void => {
    this.#child.kill('SIGKILL');
  };

  private constructor(args: readonly string[]) {
    this.#child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    process.once('exit', this.#killOnExit);
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stderr?.on('data', (chunk: string) => {
      this.#stderr.push(...chunk.split('\n').filter(Boolean));
      this.#stderr.splice(0, Math.max(0, this.#stderr.length - STDERR_LINES_KEPT));
    });
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#exitStatus = signal ? `signal ${signal}` : `code ${code}`;
        process.off('exit', this.#killOnExit);
        resolve();
      });
      // A spawn failure emits 'error' and may never emit 'exit'.
      this.#child.once('error', (error) => {
        this.#stderr.push(error.message);
        this.#exitStatus ??= 'failed to start';
        process.off('exit', this.#killOnExit);
        resolve();
      });
    });
  }

  static start(options: FfmpegOptions): FfmpegSource {
    return new FfmpegSource(ffmpegArgs(options, encodeClip(options)));
  }

  /** Runs ffmpeg with arguments built elsewhere (another shape of source), with the same lifecycle. */
  static spawn(args: readonly string[]): FfmpegSource {
    return new FfmpegSource(args);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Why ffmpeg stopped on its own, or undefined while it runs (or when it was stopped on purpose). */
  failure(): string | undefined {
    if (this.#exitStatus === undefined || this.#stopping) return undefined;
    return `ffmpeg stopped (${this.#exitStatus}) before the benchmark ended:\n  ${this.#stderr.join('\n  ') || '(no output)'}`;
  }

  /** Asks ffmpeg to finish (SIGTERM), and kills it if it has not within two seconds. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#exitStatus !== undefined) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2_000);
    await this.#exited;
    clearTimeout(timer);
  }
}
