/**
 * The RTP sink's own process (started by RtpSink.open in rtp-sink.ts): it holds the UDP sockets,
 * counts every packet per SSRC, finds loss from sequence-number gaps, and answers the parent over IPC.
 * Per packet it does a few map lookups; only SSRCs with a pending first match are decrypted and read.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
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

class SinkCounter {
  readonly #streams = new Map<number, StreamCounter>();
  readonly #watched = new Map<number, Watched>();
  readonly #kinds = new Map<string, KindCounter>();
  readonly #firstMatches = new Map<number, FirstMatch>();
  /** Derived once per transport key: audio and video of one receiver share it. */
  readonly #sessionKeys = new Map<string, SrtpSessionKeys>();
  #rtcp = 0;
  #otherRtp = 0;
  #packets = 0;
  #bytes = 0;

  constructor(
    private readonly onMatch: (ssrc: number, at: number) => void,
    private readonly onError: (message: string) => void,
  ) {}

  watch(ssrc: number, kind: string, srtp: SrtpKey | undefined): void {
    let counter = this.#kinds.get(kind);
    if (!counter) {
      counter = { kind, packets: 0, bytes: 0 };
      this.#kinds.set(kind, counter);
    }
    this.#watched.set(ssrc, srtp ? { kind: counter, srtp } : { kind: counter });
  }

  watchFirst(ssrc: number, matcher: SinkMatcher): void {
    const test = MATCHERS[matcher];
    if (!test) throw new Error(`unknown matcher "${matcher}"`);
    const watched = this.#watched.get(ssrc);
    if (!watched) throw new Error(`watchFirst for SSRC ${ssrc}, which is not watched`);
    let keys: SrtpSessionKeys | undefined;
    if (watched.srtp) {
      keys = this.#sessionKeys.get(watched.srtp.keyBase64);
      if (!keys) {
        keys = deriveSessionKeys(watched.srtp);
        this.#sessionKeys.set(watched.srtp.keyBase64, keys);
      }
    }
    this.#firstMatches.set(ssrc, { test, keys });
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
    if (this.#firstMatches.size > 0) this.#checkFirstMatch(ssrc, packet, extended);
  }

  #checkFirstMatch(ssrc: number, packet: Buffer, extendedSeq: number): void {
    const match = this.#firstMatches.get(ssrc);
    // A packet from before the first one seen (reordered across ROC 0) has no ROC to decrypt with.
    if (!match || extendedSeq < 0) return;
    let readable = packet;
    if (match.keys) {
      try {
        // The sender's rollover counter: sequence-number wraps since this stream's first packet.
        readable = decryptSrtp(match.keys, packet, Math.floor(extendedSeq / SEQ_MODULO));
      } catch (error) {
        this.#firstMatches.delete(ssrc);
        this.onError(`cannot decrypt SSRC ${ssrc} to find its first match: ${(error as Error).message}`);
        return;
      }
    }
    if (!match.test(readable)) return;
    this.#firstMatches.delete(ssrc);
    this.onMatch(ssrc, performance.timeOrigin + performance.now());
  }
}

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

const counter = new SinkCounter(
  (ssrc, at) => send({ type: 'match', ssrc, at }),
  (message) => send({ type: 'error', message }),
);
let sockets: dgram.Socket[] = [];

function apply(command: SinkCommand): void {
  switch (command.type) {
    case 'watch':
      counter.watch(command.ssrc, command.kind, command.srtp);
      return;
    case 'watchFirst':
      counter.watchFirst(command.ssrc, command.matcher);
      return;
    case 'batch':
      for (const inner of command.commands) apply(inner);
      if (command.ack !== undefined) send({ type: 'ack', id: command.ack });
      return;
    case 'totals':
      send({ type: 'totals', id: command.id, totals: counter.totals() });
      return;
    case 'close':
      for (const socket of sockets) socket.close();
      process.exit(0);
      return;
    case 'open':
      void openSockets(command.socketCount, command.receiveBufferBytes, (packet) => counter.onPacket(packet)).then(
        (opened) => {
          sockets = opened;
          send({
            type: 'opened',
            ports: opened.map((socket) => socket.address().port),
            receiveBufferBytes: opened[0]?.getRecvBufferSize() ?? 0,
          });
        },
        (error: unknown) => send({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
      );
      return;
  }
}

process.on('message', (command: SinkCommand) => {
  try {
    apply(command);
  } catch (error) {
    send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
});
// Ctrl-C reaches the whole process group: the parent stops the run and then this process, which
// must keep counting until then.
process.on('SIGINT', () => {});
// The parent is gone (or closed the channel): nobody is left to read the counts.
process.on('disconnect', () => process.exit(0));
