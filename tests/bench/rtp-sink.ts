/**
 * The far end of the synthetic consumers: UDP sockets on 127.0.0.1 that count RTP packets per SSRC
 * and find loss from gaps in RTP sequence numbers. Several consumers share one socket; mediasoup gives
 * every consumer its own SSRC, which tells their streams apart.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { udpReceiveDrops } from './linux-proc.ts';

export interface MediaTotals {
  /** RTP packets received, all streams. */
  packets: number;
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

/** Packets and bytes of one kind of stream, found from the SSRC with one map lookup per packet. */
interface KindCounter {
  kind: string;
  packets: number;
  bytes: number;
}

interface StreamCounter {
  kind: KindCounter;
  /** Extended (never wrapping) sequence numbers. */
  firstSeq: number;
  highestSeq: number;
}

interface FirstMatch {
  test: (packet: Buffer) => boolean;
  onMatch: (at: number) => void;
}

const SEQ_MODULO = 65_536;

export class RtpSink {
  readonly #sockets: dgram.Socket[];
  readonly #ports: Set<number>;
  readonly #streams = new Map<number, StreamCounter>();
  readonly #watched = new Map<number, KindCounter>();
  readonly #kinds = new Map<string, KindCounter>();
  readonly #firstMatches = new Map<number, FirstMatch>();
  #rtcp = 0;
  #otherRtp = 0;
  #packets = 0;
  #bytes = 0;

  private constructor(sockets: dgram.Socket[]) {
    this.#sockets = sockets;
    this.#ports = new Set(sockets.map((socket) => socket.address().port));
    for (const socket of sockets) socket.on('message', (packet) => this.#onPacket(packet));
  }

  /**
   * Opens `socketCount` sockets. A large receive buffer lets a busy sink absorb bursts; the kernel caps
   * it at net.core.rmem_max, and `receiveBufferBytes` reports what was granted.
   */
  static async open(socketCount: number, receiveBufferBytes: number, onError: (error: Error) => void): Promise<RtpSink> {
    const sockets: dgram.Socket[] = [];
    try {
      for (let i = 0; i < socketCount; i++) {
        const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: receiveBufferBytes });
        sockets.push(socket);
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind(0, '127.0.0.1', () => {
            socket.off('error', reject);
            resolve();
          });
        });
        socket.on('error', onError);
      }
    } catch (error) {
      for (const socket of sockets) socket.close();
      throw error;
    }
    return new RtpSink(sockets);
  }

  /** The socket for the i-th consumer: consumers are spread evenly over the sockets. */
  portFor(index: number): number {
    return this.#sockets[index % this.#sockets.length]!.address().port;
  }

  /**
   * Counts this SSRC's packets as media (a consumer's stream) of the given kind. Call before the
   * consumer is resumed.
   */
  watch(ssrc: number, kind = 'media'): void {
    let counter = this.#kinds.get(kind);
    if (!counter) {
      counter = { kind, packets: 0, bytes: 0 };
      this.#kinds.set(kind, counter);
    }
    this.#watched.set(ssrc, counter);
  }

  /**
   * Calls `onMatch` once, with the performance.now() time of arrival, for the first packet of this
   * watched SSRC that passes `test` (the whole RTP packet). Only SSRCs with a pending match pay for the
   * test, so it can run on every packet.
   */
  watchFirst(ssrc: number, test: (packet: Buffer) => boolean, onMatch: (at: number) => void): void {
    this.#firstMatches.set(ssrc, { test, onMatch });
  }

  get receiveBufferBytes(): number {
    return this.#sockets[0]?.getRecvBufferSize() ?? 0;
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

  /** Datagrams the kernel dropped on these sockets because the sink did not read them in time. */
  kernelDrops(): number {
    return udpReceiveDrops(this.#ports);
  }

  close(): void {
    for (const socket of this.#sockets) socket.close();
  }

  #onPacket(packet: Buffer): void {
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return; // not RTP or RTCP version 2
    const payloadType = packet[1]! & 0x7f;
    // RTCP packet types 192-223 read as payload types 64-95 in the RTP header's position (RFC 5761).
    if (payloadType >= 64 && payloadType <= 95) {
      this.#rtcp++;
      return;
    }
    const seq = packet.readUInt16BE(2);
    const ssrc = packet.readUInt32BE(8);
    const kind = this.#watched.get(ssrc);
    if (!kind) {
      this.#otherRtp++;
      return;
    }
    this.#packets++;
    this.#bytes += packet.length;
    kind.packets++;
    kind.bytes += packet.length;
    if (this.#firstMatches.size > 0) this.#checkFirstMatch(ssrc, packet);
    const stream = this.#streams.get(ssrc);
    if (!stream) {
      this.#streams.set(ssrc, { kind, firstSeq: seq, highestSeq: seq });
      return;
    }
    // Extend the 16-bit number to the value nearest the highest so far, so a wrap is not a gap and a
    // late (reordered) packet is not a jump.
    let extended = stream.highestSeq - (stream.highestSeq % SEQ_MODULO) + seq;
    if (extended < stream.highestSeq - SEQ_MODULO / 2) extended += SEQ_MODULO;
    else if (extended > stream.highestSeq + SEQ_MODULO / 2) extended -= SEQ_MODULO;
    if (extended > stream.highestSeq) stream.highestSeq = extended;
  }

  #checkFirstMatch(ssrc: number, packet: Buffer): void {
    const match = this.#firstMatches.get(ssrc);
    if (!match || !match.test(packet)) return;
    this.#firstMatches.delete(ssrc);
    match.onMatch(performance.now());
  }
}
