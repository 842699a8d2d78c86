/**
 * One track written to a file: a PlainTransport on the room's router sends the producer's RTP (its
 * top simulcast layer) to an ffmpeg on 127.0.0.1, which writes it without re-encoding. The file is
 * written in one-second clusters, so whatever was written plays even if ffmpeg or the server dies;
 * a clean stop also writes its index and duration.
 */
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { types } from 'mediasoup';
import type { Logger } from '../logger.ts';
import { fileSize } from './manifest.ts';
import { sdpFor } from './sdp.ts';
import { spawnTied } from './tied-process.ts';

/**
 * ffmpeg opens its UDP sockets a moment after it has read the description; on a busy machine that
 * moment can pass a second. RTP sent before is lost, and with it the file's first seconds (and the
 * time zero the composite needs), so the recorder waits until the port is bound.
 */
const LISTEN_TIMEOUT_MS = 10_000;
const LISTEN_POLL_MS = 25;

/** Whether something listens on the UDP port, from /proc/net/udp. */
function udpBound(port: number): boolean | undefined {
  let table: string;
  try {
    table = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return undefined; // not Linux: cannot tell
  }
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return table.split('\n').some((line) => line.trim().split(/\s+/)[1]?.endsWith(suffix) === true);
}

async function untilListening(port: number, exited: Promise<unknown>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + LISTEN_TIMEOUT_MS;
  while (!gone && Date.now() < deadline) {
    const bound = udpBound(port);
    if (bound === undefined) return void (await new Promise((resolve) => setTimeout(resolve, 500)));
    if (bound) return;
    await new Promise((resolve) => setTimeout(resolve, LISTEN_POLL_MS));
  }
  throw new Error(gone ? 'the recorder (ffmpeg) exited before it listened' : 'the recorder (ffmpeg) did not listen in time');
}
/** Keyframe requests after the start: a file cannot begin before one, and the first may be lost. */
const KEYFRAME_RETRIES_MS = [0, 1_000, 3_000];
const STOP_TIMEOUT_MS = 4_000;
const SECOND_SIGNAL_MS = 1_000;

/** Two consecutive free UDP ports on 127.0.0.1 (RTP, then RTCP), found by binding them. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const rtp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => rtp.bind(0, '127.0.0.1', resolve));
    const port = rtp.address().port;
    const rtcp = dgram.createSocket('udp4');
    const ok = port % 2 === 0 && (await new Promise<boolean>((resolve) => {
      rtcp.once('error', () => resolve(false));
      rtcp.bind(port + 1, '127.0.0.1', () => resolve(true));
    }));
    rtp.close();
    rtcp.close();
    if (ok) return port;
  }
  throw new Error('no free UDP port pair for the recorder');
}

export interface TrackRecorderOptions {
  ffmpeg: string;
  /** The file, without extension decided here. */
  file: string;
  format: 'webm' | 'matroska';
  logger: Logger;
}

export class TrackRecorder {
  readonly #timers: NodeJS.Timeout[] = [];
  #stopping: Promise<void> | undefined;
  /**
   * When the file's time zero arrived (epoch ms): the first keyframe sent to ffmpeg (it drops what
   * comes before), or the first audio packet. The composite places the file on the recording's clock
   * with it.
   */
  readonly firstMedia: Promise<number>;

  private constructor(
    readonly consumer: types.Consumer,
    private readonly transport: types.PlainTransport,
    private readonly ffmpeg: ChildProcess,
    readonly exited: Promise<number | null>,
    /** The file it writes. */
    readonly file: string,
  ) {
    this.firstMedia = new Promise((resolve) => {
      const onTrace = (trace: types.ConsumerTraceEventData) => {
        if (trace.direction !== 'out') return;
        consumer.off('trace', onTrace);
        void consumer.enableTraceEvent([]).catch(() => undefined); // closed meanwhile: nothing to turn off
        resolve(Date.now());
      };
      consumer.on('trace', onTrace);
    });
  }

  /** Starts ffmpeg and the RTP towards it; resolves once media is flowing (keyframe requested). */
  static async start(router: types.Router, producerId: string, options: TrackRecorderOptions): Promise<TrackRecorder> {
    const port = await freePortPair();
    const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: false, comedia: false });
    let consumer: types.Consumer;
    try {
      await transport.connect({ ip: '127.0.0.1', port, rtcpPort: port + 1 });
      consumer = await transport.consume({ producerId, rtpCapabilities: router.rtpCapabilities, paused: true });
      // The top layer of a simulcast camera: the file keeps the best the person sent.
      if (consumer.type === 'simulcast') await consumer.setPreferredLayers({ spatialLayer: 15, temporalLayer: 15 });
    } catch (error) {
      transport.close();
      throw error;
    }
    const ffmpeg = spawnTied(
      options.ffmpeg,
      [
        '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
        // Loopback only: by default ffmpeg binds every address, and anyone could send into a recording.
        '-protocol_whitelist', 'pipe,udp,rtp', '-localaddr', '127.0.0.1', '-f', 'sdp', '-i', 'pipe:0',
        '-c', 'copy',
        // Each packet reaches the file at once, and clusters close every second: a killed recorder's
        // file plays up to its last second.
        '-flush_packets', '1', '-f', options.format, '-cluster_time_limit', '1000',
        options.file,
      ],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let stderr = '';
    ffmpeg.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2_000)));
    const exited = new Promise<number | null>((resolve) => {
      ffmpeg.once('exit', (code) => resolve(code));
      ffmpeg.once('error', (error) => {
        stderr += error.message;
        resolve(null);
      });
    });
    void exited.then((code) => {
      if (code !== 0 && code !== 255 && code !== null) options.logger.warn({ file: options.file, code, stderr }, 'a track recorder stopped');
    });
    ffmpeg.stdin!.end(sdpFor(consumer.rtpParameters, consumer.kind, port));
    const recorder = new TrackRecorder(consumer, transport, ffmpeg, exited, options.file);
    try {
      await untilListening(port, exited);
    } catch (error) {
      await recorder.stop();
      throw error;
    }
    await consumer.enableTraceEvent([consumer.kind === 'video' ? 'keyframe' : 'rtp']);
    await consumer.resume();
    if (consumer.kind === 'video') {
      for (const delay of KEYFRAME_RETRIES_MS) {
        recorder.#timers.push(setTimeout(() => void consumer.requestKeyFrame().catch(() => undefined), delay));
      }
      // ffmpeg opens the file only once a keyframe gave it the picture size. Under load a publisher
      // may miss the first requests (seen in CI: one camera's file never started), so keep asking
      // every second until the file has data.
      const nudge = setInterval(() => {
        if (fileSize(options.file) > 0) clearInterval(nudge);
        else void consumer.requestKeyFrame().catch(() => undefined);
      }, 1_000);
      recorder.#timers.push(nudge);
    }
    return recorder;
  }

  /**
   * Lets ffmpeg finish the file (index, duration), then stops the RTP. ffmpeg notices a first signal
   * only between packets, so the RTP keeps flowing until it exits; a second signal a moment later
   * breaks a read that waits (a paused microphone sends nothing), and SIGKILL ends it past a deadline.
   * SIGTERM, not SIGINT: a parent that ignores SIGINT (a test runner, a shell's background job) passes
   * that on to its children.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const timer of this.#timers) clearTimeout(timer); // clears intervals too
      const running = this.ffmpeg.exitCode === null && this.ffmpeg.signalCode === null;
      const timers = running
        ? [
            setTimeout(() => this.ffmpeg.kill('SIGTERM'), 0),
            setTimeout(() => this.ffmpeg.kill('SIGTERM'), SECOND_SIGNAL_MS),
            setTimeout(() => this.ffmpeg.kill('SIGKILL'), STOP_TIMEOUT_MS),
          ]
        : [];
      await this.exited;
      for (const timer of timers) clearTimeout(timer);
      this.transport.close();
    })();
    return this.#stopping;
  }

  /** The ffmpeg process id (tests kill it to check that the file stays playable). */
  get pid(): number | undefined {
    return this.ffmpeg.pid;
  }
}
