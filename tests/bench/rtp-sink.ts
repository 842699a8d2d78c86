/**
 * The far end of the synthetic consumers: UDP sockets on 127.0.0.1 that count RTP packets per SSRC
 * and find loss from gaps in RTP sequence numbers. Several consumers share one socket; mediasoup gives
 * every consumer its own SSRC, which tells their streams apart.
 *
 * The sockets live in a child process (rtp-sink-process.ts), so that reading every packet does not
 * share the benchmark's event loop and its CPU can be measured apart. This class is the parent's
 * handle on it: registrations are batched to the child, totals are asked for when needed.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SINK, type SinkKind, ToolError } from './cli.ts';
import { udpReceiveDrops } from './linux-proc.ts';
import { nativeSinkBinary } from './native-sink.ts';
import type { SrtpKey } from './srtp.ts';

export interface MediaTotals {
  /** RTP packets received, all streams. */
  packets: number;
  /** UDP payload bytes: with SRTP, the authentication tag included. */
  bytes: number;
  /** Packets the sequence numbers say were sent (received + lost), all streams. */
  expected: number;
  /** Distinct SSRCs seen: consumers whose media reached the sink. */
  streams: number;
}

export interface SinkTotals extends MediaTotals {
  /** The same counts for each kind given to watch() ("audio", "video"). */
  byKind: Record<string, MediaTotals>;
  /** RTCP packets (sender reports), which share the port (rtcp-mux) and are not counted as media. */
  rtcp: number;
  /** RTP packets from SSRCs no consumer announced: mediasoup's bandwidth probes. Not counted as media. */
  otherRtp: number;
}

/** Packet tests the sink process knows by name (functions cannot cross to it). */
export type SinkMatcher = 'vp8-keyframe';

/** Parent → child. */
export type SinkCommand =
  /** `native`: the compiled counting core to start (it then owns the sockets); absent: count in Node. */
  | { type: 'open'; socketCount: number; receiveBufferBytes: number; native?: string }
  | { type: 'watch'; ssrc: number; kind: string; srtp?: SrtpKey }
  | { type: 'watchFirst'; ssrc: number; matcher: SinkMatcher }
  | { type: 'batch'; commands: SinkCommand[]; ack?: number }
  | { type: 'totals'; id: number }
  | { type: 'close' };

/** Child → parent. */
export type SinkEvent =
  /** `pids`: the sink's processes other than the child itself (the native core). */
  | { type: 'opened'; ports: number[]; receiveBufferBytes: number; pids: number[] }
  | { type: 'ack'; id: number }
  | { type: 'totals'; id: number; totals: SinkTotals }
  /** `at` is performance.timeOrigin + performance.now() in the child: comparable across processes. */
  | { type: 'match'; ssrc: number; at: number }
  | { type: 'error'; message: string };

const CHILD = fileURLToPath(new URL('./rtp-sink-process.ts', import.meta.url));
/** `--import tsx` is resolved from the working directory: the repository's root, where tsx is installed. */
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const START_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 2_000;

/** A time comparable with the sink's arrival times: ms since the epoch, sub-millisecond resolution. */
export function sinkClock(): number {
  return performance.timeOrigin + performance.now();
}

export class RtpSink {
  readonly #child: ChildProcess;
  readonly #ports: number[];
  readonly #receiveBufferBytes: number;
  readonly #kind: SinkKind;
  readonly #corePids: number[];
  readonly #onError: (error: Error) => void;
  readonly #matches = new Map<number, (at: number) => void>();
  /** Requests waiting for the child's answer (totals, acks), by id. */
  readonly #requests = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #pending: SinkCommand[] = [];
  #flushScheduled = false;
  #nextId = 1;
  #failure: Error | undefined;
  #closing = false;

  private constructor(
    child: ChildProcess,
    kind: SinkKind,
    opened: Extract<SinkEvent, { type: 'opened' }>,
    onError: (error: Error) => void,
  ) {
    this.#child = child;
    this.#kind = kind;
    this.#ports = opened.ports;
    this.#receiveBufferBytes = opened.receiveBufferBytes;
    this.#corePids = opened.pids;
    this.#onError = onError;
    child.on('message', (message) => this.#onEvent(message as SinkEvent));
    child.on('exit', (code, signal) => {
      if (this.#closing) return;
      this.#fail(new ToolError(`the RTP sink process (pid ${child.pid}) exited (${signal ?? `code ${code}`}); stopping`));
    });
    child.on('error', (error) => this.#fail(new ToolError(`the RTP sink process (pid ${child.pid}) failed: ${error.message}`)));
  }

  /**
   * Starts the sink process and opens `socketCount` sockets in it. A large receive buffer lets a busy
   * sink absorb bursts; the kernel caps it at net.core.rmem_max, and `receiveBufferBytes` reports what
   * was granted. `onError` is told once if the sink fails later (a socket error, the process dying).
   * `kind`: `native` counts in the compiled core (native/rtp-sink.c, compiled here if needed), with the
   * Node child only relaying and decrypting first matches; `node` counts in the Node child.
   */
  static async open(
    socketCount: number,
    receiveBufferBytes: number,
    onError: (error: Error) => void,
    kind: SinkKind = DEFAULT_SINK,
  ): Promise<RtpSink> {
    // Compiled before anything starts, so a missing compiler is a plain ToolError.
    const native = kind === 'native' ? nativeSinkBinary() : undefined;
    const child = fork(CHILD, [], {
      cwd: REPO_ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      const opened = await new Promise<Extract<SinkEvent, { type: 'opened' }>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new ToolError(`the RTP sink process did not start in ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
        const settle = (): void => {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          child.off('error', reject);
        };
        const onMessage = (message: SinkEvent): void => {
          settle();
          if (message.type === 'opened') resolve(message);
          else reject(new ToolError(`the RTP sink could not open its sockets: ${message.type === 'error' ? message.message : message.type}`));
        };
        const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
          settle();
          reject(new ToolError(`the RTP sink process exited while starting (${signal ?? `code ${code}`})`));
        };
        child.on('message', onMessage);
        child.on('exit', onExit);
        child.on('error', reject);
        child.send({ type: 'open', socketCount, receiveBufferBytes, ...(native ? { native } : {}) } satisfies SinkCommand);
      });
      return new RtpSink(child, kind, opened, onError);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  /** The sink's Node process (the one RtpSink started). With the native core, see `pids` for its CPU. */
  get pid(): number {
    return this.#child.pid!;
  }

  /** Every process of the sink, whose CPU together is the sink's: the Node child, then the native core. */
  get pids(): number[] {
    return [this.#child.pid!, ...this.#corePids];
  }

  /** Where the packets are counted. */
  get kind(): SinkKind {
    return this.#kind;
  }

  /** The socket for the i-th consumer: consumers are spread evenly over the sockets. */
  portFor(index: number): number {
    return this.#ports[index % this.#ports.length]!;
  }

  /**
   * Counts this SSRC's packets as media (a consumer's stream) of the given kind. `srtp` is the key the
   * sending transport encrypts with (mediasoup's transport.srtpParameters), needed only if the SSRC
   * is also given to watchFirst. Sent to the sink in a batch: call `synced()` before the consumer is
   * resumed.
   */
  watch(ssrc: number, kind = 'media', srtp?: SrtpKey): void {
    this.#queue(srtp ? { type: 'watch', ssrc, kind, srtp } : { type: 'watch', ssrc, kind });
  }

  /**
   * Calls `onMatch` once, with the arrival time (as `sinkClock()` tells it), for the first packet of
   * this watched SSRC that passes the named test. With SRTP, the sink decrypts only the packets of
   * SSRCs with a pending match, with the key given to watch().
   */
  watchFirst(ssrc: number, matcher: SinkMatcher, onMatch: (at: number) => void): void {
    this.#matches.set(ssrc, onMatch);
    this.#queue({ type: 'watchFirst', ssrc, matcher });
  }

  /** Resolves once the sink has every registration made so far, so nothing sent after can be missed. */
  synced(): Promise<void> {
    const id = this.#nextId++;
    const done = this.#request<void>(id);
    this.#send({ type: 'batch', commands: this.#takePending(), ack: id });
    return done;
  }

  get receiveBufferBytes(): number {
    return this.#receiveBufferBytes;
  }

  /** What the sink has counted so far (after every registration made before this call). */
  totals(): Promise<SinkTotals> {
    this.#flush();
    const id = this.#nextId++;
    const done = this.#request<SinkTotals>(id);
    this.#send({ type: 'totals', id });
    return done;
  }

  /** Datagrams the kernel dropped on these sockets because the sink did not read them in time. */
  kernelDrops(): number {
    return udpReceiveDrops(new Set(this.#ports));
  }

  /** Stops the sink process: asked first, killed if it does not go. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.connected) child.send({ type: 'close' } satisfies SinkCommand, () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    for (const request of this.#requests.values()) request.reject(new ToolError('the RTP sink is closed'));
    this.#requests.clear();
  }

  #queue(command: SinkCommand): void {
    this.#pending.push(command);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  #takePending(): SinkCommand[] {
    const commands = this.#pending;
    this.#pending = [];
    this.#flushScheduled = false;
    return commands;
  }

  #flush(): void {
    if (this.#pending.length > 0) this.#send({ type: 'batch', commands: this.#takePending() });
  }

  #request<T>(id: number): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<T>((resolve, reject) => {
      this.#requests.set(id, { resolve: (value) => resolve(value as T), reject });
    });
  }

  #send(command: SinkCommand): void {
    if (this.#failure || this.#closing || !this.#child.connected) return;
    this.#child.send(command, (error) => {
      if (error) this.#fail(new ToolError(`cannot reach the RTP sink process: ${error.message}`));
    });
  }

  #onEvent(event: SinkEvent): void {
    switch (event.type) {
      case 'match': {
        const onMatch = this.#matches.get(event.ssrc);
        this.#matches.delete(event.ssrc);
        onMatch?.(event.at);
        return;
      }
      case 'ack':
      case 'totals': {
        const request = this.#requests.get(event.id);
        this.#requests.delete(event.id);
        request?.resolve(event.type === 'totals' ? event.totals : undefined);
        return;
      }
      case 'error':
        this.#fail(new ToolError(`RTP sink: ${event.message}`));
        return;
      case 'opened':
        return;
    }
  }

  /** Remembers the first failure, tells the owner, and fails every request still waiting. */
  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    for (const request of this.#requests.values()) request.reject(error);
    this.#requests.clear();
    this.#onError(error);
  }
}
