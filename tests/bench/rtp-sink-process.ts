/**
 * The RTP sink's own process (started by RtpSink.open in rtp-sink.ts). It answers the parent over IPC
 * and works in one of two ways:
 * - node: it holds the UDP sockets, counts every packet per SSRC and finds loss from sequence-number
 *   gaps itself (one 'message' event per datagram);
 * - native: it starts the compiled counting core (native/rtp-sink.c), which holds the sockets and
 *   counts, and relays commands and totals to and from it; the core passes on only the packets of SSRCs
 *   with a pending first match, which are decrypted and tested here.
 * Either way, only SSRCs with a pending first match are decrypted and read.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { MediaTotals, SinkCommand, SinkEvent, SinkMatcher, SinkTotals } from './rtp-sink.ts';
import { type SrtpKey, type SrtpSessionKeys, decryptSrtp, deriveSessionKeys } from './srtp.ts';
import { isVp8KeyframeStart } from './vp8-keyframe.ts';

const MATCHERS: Record<SinkMatcher, (packet: Buffer) => boolean> = {
  'vp8-keyframe': isVp8KeyframeStart,
};

/** Packets and bytes of one kind of stream, found from the SSRC with one map lookup per packet. */
interface KindCounter {
  kind: string;
  packets: number;
  bytes: number;
}

interface Watched {
  kind: KindCounter;
  /** The sender's SRTP key, if it encrypts; used only for a first match. */
  srtp?: SrtpKey;
}

interface StreamCounter {
  kind: KindCounter;
  /** Extended (never wrapping) sequence numbers; the first packet's is its own, with ROC 0. */
  firstSeq: number;
  highestSeq: number;
}

interface FirstMatch {
  test: (packet: Buffer) => boolean;
  /** Session keys to decrypt with; undefined for plain RTP. */
  keys: SrtpSessionKeys | undefined;
}

const SEQ_MODULO = 65_536;

/** Pending first matches, by SSRC: decrypts (with the sender's key) and tests the packets given to it. */
class FirstMatches {
  readonly #pending = new Map<number, FirstMatch>();
  /** Derived once per transport key: audio and video of one receiver share it. */
  readonly #sessionKeys = new Map<string, SrtpSessionKeys>();

  constructor(
    private readonly onMatch: (ssrc: number, at: number) => void,
    private readonly onError: (message: string) => void,
  ) {}

  get size(): number {
    return this.#pending.size;
  }

  add(ssrc: number, matcher: SinkMatcher, srtp: SrtpKey | undefined): void {
    const test = MATCHERS[matcher];
    if (!test) throw new Error(`unknown matcher "${matcher}"`);
    let keys: SrtpSessionKeys | undefined;
    if (srtp) {
      keys = this.#sessionKeys.get(srtp.keyBase64);
      if (!keys) {
        keys = deriveSessionKeys(srtp);
        this.#sessionKeys.set(srtp.keyBase64, keys);
      }
    }
    this.#pending.set(ssrc, { test, keys });
  }

  /**
   * Tests one packet of this SSRC (which arrived at `at`, ms since the epoch). Returns true when the
   * SSRC no longer has a pending match: found, or given up on (it cannot be decrypted).
   */
  check(ssrc: number, packet: Buffer, extendedSeq: number, at: () => number): boolean {
    const match = this.#pending.get(ssrc);
    if (!match) return true;
    // A packet from before the first one seen (reordered across ROC 0) has no ROC to decrypt with.
    if (extendedSeq < 0) return false;
    let readable = packet;
    if (match.keys) {
      try {
        // The sender's rollover counter: sequence-number wraps since this stream's first packet.
        readable = decryptSrtp(match.keys, packet, Math.floor(extendedSeq / SEQ_MODULO));
      } catch (error) {
        this.#pending.delete(ssrc);
        this.onError(`cannot decrypt SSRC ${ssrc} to find its first match: ${(error as Error).message}`);
        return true;
      }
    }
    if (!match.test(readable)) return false;
    this.#pending.delete(ssrc);
    this.onMatch(ssrc, at());
    return true;
  }
}

class SinkCounter {
  readonly #streams = new Map<number, StreamCounter>();
  readonly #watched = new Map<number, Watched>();
  readonly #kinds = new Map<string, KindCounter>();
  readonly #firstMatches: FirstMatches;
  #rtcp = 0;
  #otherRtp = 0;
  #packets = 0;
  #bytes = 0;

  constructor(onMatch: (ssrc: number, at: number) => void, onError: (message: string) => void) {
    this.#firstMatches = new FirstMatches(onMatch, onError);
  }

  watch(ssrc: number, kind: string, srtp: SrtpKey | undefined): void {
    let counter = this.#kinds.get(kind);
    if (!counter) {
      counter = { kind, packets: 0, bytes: 0 };
      this.#kinds.set(kind, counter);
    }
    this.#watched.set(ssrc, srtp ? { kind: counter, srtp } : { kind: counter });
  }

  watchFirst(ssrc: number, matcher: SinkMatcher): void {
    const watched = this.#watched.get(ssrc);
    if (!watched) throw new Error(`watchFirst for SSRC ${ssrc}, which is not watched`);
    this.#firstMatches.add(ssrc, matcher, watched.srtp);
  }

  totals(): SinkTotals {
    let expected = 0;
    const byKind: Record<string, MediaTotals> = {};
    for (const { kind, packets, bytes } of this.#kinds.values()) byKind[kind] = { packets, bytes, expected: 0, streams: 0 };
    for (const stream of this.#streams.values()) {
      const streamExpected = stream.highestSeq - stream.firstSeq + 1;
      expected += streamExpected;
      const ofKind = byKind[stream.kind.kind]!;
      ofKind.expected += streamExpected;
      ofKind.streams++;
    }
    return {
      packets: this.#packets,
      bytes: this.#bytes,
      expected,
      streams: this.#streams.size,
      byKind,
      rtcp: this.#rtcp,
      otherRtp: this.#otherRtp,
    };
  }

  onPacket(packet: Buffer): void {
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return; // not RTP or RTCP version 2
    const payloadType = packet[1]! & 0x7f;
    // RTCP packet types 192-223 read as payload types 64-95 in the RTP header's position (RFC 5761).
    if (payloadType >= 64 && payloadType <= 95) {
      this.#rtcp++;
      return;
    }
    const seq = packet.readUInt16BE(2);
    const ssrc = packet.readUInt32BE(8);
    const watched = this.#watched.get(ssrc);
    if (!watched) {
      this.#otherRtp++;
      return;
    }
    const kind = watched.kind;
    this.#packets++;
    this.#bytes += packet.length;
    kind.packets++;
    kind.bytes += packet.length;
    const stream = this.#streams.get(ssrc);
    let extended = seq;
    if (!stream) {
      this.#streams.set(ssrc, { kind, firstSeq: seq, highestSeq: seq });
    } else {
      // Extend the 16-bit number to the value nearest the highest so far, so a wrap is not a gap and a
      // late (reordered) packet is not a jump.
      extended = stream.highestSeq - (stream.highestSeq % SEQ_MODULO) + seq;
      if (extended < stream.highestSeq - SEQ_MODULO / 2) extended += SEQ_MODULO;
      else if (extended > stream.highestSeq + SEQ_MODULO / 2) extended -= SEQ_MODULO;
      if (extended > stream.highestSeq) stream.highestSeq = extended;
    }
    if (this.#firstMatches.size > 0) this.#firstMatches.check(ssrc, packet, extended, sinkNow);
  }
}

const sinkNow = (): number => performance.timeOrigin + performance.now();

function send(event: SinkEvent): void {
  if (process.connected) process.send!(event);
}

async function openSockets(count: number, receiveBufferBytes: number, onPacket: (packet: Buffer) => void): Promise<dgram.Socket[]> {
  const sockets: dgram.Socket[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: receiveBufferBytes });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, '127.0.0.1', () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.on('error', (error) => send({ type: 'error', message: `socket ${socket.address().port}: ${error.message}` }));
      socket.on('message', onPacket);
    }
  } catch (error) {
    for (const socket of sockets) socket.close();
    throw error;
  }
  return sockets;
}

/** What the process does with the parent's commands, counting itself (node) or through the core (native). */
interface Backend {
  watch(ssrc: number, kind: string, srtp: SrtpKey | undefined): void;
  watchFirst(ssrc: number, matcher: SinkMatcher): void;
  /** Answers "ack" once every command before it has been applied. */
  ack(id: number): void;
  totals(id: number): void;
  close(): void;
}

const reportError = (message: string): void => send({ type: 'error', message });
const reportMatch = (ssrc: number, at: number): void => send({ type: 'match', ssrc, at });

async function openNode(socketCount: number, receiveBufferBytes: number): Promise<Backend> {
  const counter = new SinkCounter(reportMatch, reportError);
  const sockets = await openSockets(socketCount, receiveBufferBytes, (packet) => counter.onPacket(packet));
  send({
    type: 'opened',
    ports: sockets.map((socket) => socket.address().port),
    receiveBufferBytes: sockets[0]?.getRecvBufferSize() ?? 0,
    pids: [],
  });
  return {
    watch: (ssrc, kind, srtp) => counter.watch(ssrc, kind, srtp),
    watchFirst: (ssrc, matcher) => counter.watchFirst(ssrc, matcher),
    ack: (id) => send({ type: 'ack', id }),
    totals: (id) => send({ type: 'totals', id, totals: counter.totals() }),
    close: () => {
      for (const socket of sockets) socket.close();
    },
  };
}

const NATIVE_CLOSE_TIMEOUT_MS = 1_000;

/**
 * The native core, which owns the sockets: commands go to its stdin, its stdout has the answers and
 * the packets of SSRCs with a pending first match (see native/rtp-sink.c for the protocol).
 */
class NativeBackend implements Backend {
  readonly #core: ChildProcessByStdio<Writable, Readable, null>;
  /** Kind names by the index the core counts them under. */
  readonly #kinds: string[] = [];
  readonly #keys = new Map<number, SrtpKey | undefined>();
  readonly #firstMatches = new FirstMatches(reportMatch, reportError);
  #closing = false;
  /** Command lines not yet written: a batch of registrations goes to the core in one write. */
  #output = '';

  private constructor(core: ChildProcessByStdio<Writable, Readable, null>) {
    this.#core = core;
  }

  static async open(binary: string, socketCount: number, receiveBufferBytes: number): Promise<NativeBackend> {
    const core = spawn(binary, [String(socketCount), String(receiveBufferBytes)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const backend = new NativeBackend(core);
    const lines = createInterface({ input: core.stdout, crlfDelay: Infinity });
    const opened = await new Promise<{ ports: number[]; receiveBufferBytes: number }>((resolve, reject) => {
      const onLine = (line: string): void => {
        lines.off('line', onLine);
        core.off('exit', onExit);
        core.off('error', reject);
        const [word, granted, ...ports] = line.split(' ');
        if (word === 'open') resolve({ receiveBufferBytes: Number(granted), ports: ports.map(Number) });
        else reject(new Error(line.startsWith('error ') ? line.slice(6) : `unexpected "${line}" from the native sink`));
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        reject(new Error(`the native RTP sink (${binary}) exited while starting (${signal ?? `code ${code}`})`));
      lines.on('line', onLine);
      core.on('exit', onExit);
      core.on('error', reject);
    }).catch((error: unknown) => {
      core.kill('SIGKILL');
      throw error;
    });
    lines.on('line', (line) => backend.#onLine(line));
    core.on('exit', (code, signal) => {
      if (backend.#closing) return;
      // Told before this process goes, so the parent fails the run with the reason.
      const message = `the native RTP sink process (pid ${core.pid}) exited (${signal ?? `code ${code}`}); stopping`;
      if (process.connected) process.send!({ type: 'error', message } satisfies SinkEvent, () => process.exit(1));
      else process.exit(1);
    });
    core.stdin.on('error', () => {}); // a dead core is reported by 'exit'
    send({ type: 'opened', ports: opened.ports, receiveBufferBytes: opened.receiveBufferBytes, pids: [core.pid!] });
    return backend;
  }

  watch(ssrc: number, kind: string, srtp: SrtpKey | undefined): void {
    let index = this.#kinds.indexOf(kind);
    if (index < 0) index = this.#kinds.push(kind) - 1;
    this.#keys.set(ssrc, srtp);
    this.#write(`w ${ssrc} ${index}\n`);
  }

  watchFirst(ssrc: number, matcher: SinkMatcher): void {
    if (!this.#keys.has(ssrc)) throw new Error(`watchFirst for SSRC ${ssrc}, which is not watched`);
    this.#firstMatches.add(ssrc, matcher, this.#keys.get(ssrc));
    this.#write(`m ${ssrc}\n`);
  }

  ack(id: number): void {
    this.#write(`a ${id}\n`);
  }

  totals(id: number): void {
    this.#write(`t ${id}\n`);
  }

  close(): void {
    this.#closing = true;
    this.#write('q\n');
    this.#flush();
    const timer = setTimeout(() => this.#core.kill('SIGKILL'), NATIVE_CLOSE_TIMEOUT_MS);
    this.#core.once('exit', () => {
      clearTimeout(timer);
      process.exit(0);
    });
  }

  #write(text: string): void {
    if (this.#output === '') process.nextTick(() => this.#flush());
    this.#output += text;
  }

  #flush(): void {
    const text = this.#output;
    this.#output = '';
    if (text !== '' && this.#core.stdin.writable) this.#core.stdin.write(text);
  }

  #onLine(line: string): void {
    const space = line.indexOf(' ');
    const word = space < 0 ? line : line.slice(0, space);
    switch (word) {
      case 'pkt': {
        const [, ssrcText, atText, seqText, base64] = line.split(' ');
        const ssrc = Number(ssrcText);
        const done = this.#firstMatches.check(ssrc, Buffer.from(base64!, 'base64'), Number(seqText), () => Number(atText));
        if (done) this.#write(`c ${ssrc}\n`);
        return;
      }
      case 'ack':
        send({ type: 'ack', id: Number(line.slice(space + 1)) });
        return;
      case 'totals':
        send(this.#parseTotals(line));
        return;
      case 'error':
        reportError(`native sink: ${line.slice(space + 1)}`);
        return;
      default:
        reportError(`unexpected line from the native sink: "${line.slice(0, 80)}"`);
    }
  }

  #parseTotals(line: string): SinkEvent {
    const numbers = line.split(' ').slice(1).map(Number);
    const [id, packets, bytes, expected, streams, rtcp, otherRtp, kindCount] = numbers as [number, number, number, number, number, number, number, number];
    const byKind: Record<string, MediaTotals> = {};
    for (let index = 0; index < this.#kinds.length; index++) {
      const at = 8 + index * 4;
      byKind[this.#kinds[index]!] =
        index < kindCount
          ? { packets: numbers[at]!, bytes: numbers[at + 1]!, expected: numbers[at + 2]!, streams: numbers[at + 3]! }
          : { packets: 0, bytes: 0, expected: 0, streams: 0 };
    }
    return { type: 'totals', id, totals: { packets, bytes, expected, streams, byKind, rtcp, otherRtp } };
  }
}

let backend: Backend | undefined;
/** Commands that came while the backend was opening: applied in order once it is open. */
const waiting: SinkCommand[] = [];

function apply(command: SinkCommand): void {
  if (command.type === 'open') {
    const opening = command.native
      ? NativeBackend.open(command.native, command.socketCount, command.receiveBufferBytes)
      : openNode(command.socketCount, command.receiveBufferBytes);
    opening.then(
      (opened) => {
        backend = opened;
        for (const queued of waiting.splice(0)) safely(queued);
      },
      (error: unknown) => reportError(error instanceof Error ? error.message : String(error)),
    );
    return;
  }
  if (command.type === 'close') {
    if (!backend) process.exit(0);
    backend.close();
    if (!(backend instanceof NativeBackend)) process.exit(0);
    return;
  }
  if (!backend) {
    waiting.push(command);
    return;
  }
  switch (command.type) {
    case 'watch':
      backend.watch(command.ssrc, command.kind, command.srtp);
      return;
    case 'watchFirst':
      backend.watchFirst(command.ssrc, command.matcher);
      return;
    case 'batch':
      for (const inner of command.commands) apply(inner);
      if (command.ack !== undefined) backend.ack(command.ack);
      return;
    case 'totals':
      backend.totals(command.id);
      return;
  }
}

function safely(command: SinkCommand): void {
  try {
    apply(command);
  } catch (error) {
    reportError(error instanceof Error ? error.message : String(error));
  }
}

process.on('message', (command: SinkCommand) => safely(command));
// Ctrl-C reaches the whole process group: the parent stops the run and then this process, which
// must keep counting until then.
process.on('SIGINT', () => {});
// The parent is gone (or closed the channel): nobody is left to read the counts. The native core
// sees its stdin close and goes too.
process.on('disconnect', () => process.exit(0));
