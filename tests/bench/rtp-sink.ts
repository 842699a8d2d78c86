/**
 * The far end of the synthetic consumers: UDP sockets on 127.0.0.1 that count RTP packets per SSRC
 * and find loss from gaps in RTP sequence numbers. Several consumers share one socket; mediasoup gives
 * every consumer its own SSRC, which tells their streams apart.
 */
import dgram from 'node:dgram';
import { udpReceiveDrops } from './linux-proc.ts';

export interface SinkTotals {
  /** RTP packets received, all streams. */
  packets: number;
  bytes: number;
  /** Packets the sequence numbers say were sent (received + lost), all streams. */
  expected: number;
  /** Distinct SSRCs seen: consumers whose media reached the sink. */
  streams: number;
  /** RTCP packets (sender reports), which share the port (rtcp-mux) and are not counted as media. */
  rtcp: number;
  /** RTP packets from SSRCs no consumer announced: mediasoup's bandwidth probes. Not counted as media. */
  otherRtp: number;
}

interface StreamCounter {
  /** Extended (never wrapping) sequence numbers. */
  firstSeq: number;
  highestSeq: number;
}

const SEQ_MODULO = 65_536;

export class RtpSink {
  readonly #sockets: dgram.Socket[];
  readonly #ports: Set<number>;
  readonly #streams = new Map<number, StreamCounter>();
  readonly #watched = new Set<number>();
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

  /** Counts this SSRC's packets as media (a consumer's stream). Call before the consumer is resumed. */
  watch(ssrc: number): void {
    this.#watched.add(ssrc);
  }

  get receiveBufferBytes(): number {
    return this.#sockets[0]?.getRecvBufferSize() ?? 0;
  }

  totals(): SinkTotals {
    let expected = 0;
    for (const stream of this.#streams.values()) expected += stream.highestSeq - stream.firstSeq + 1;
    return { packets: this.#packets, bytes: this.#bytes, expected, streams: this.#streams.size, rtcp: this.#rtcp, otherRtp: this.#otherRtp };
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
    if (!this.#watched.has(ssrc)) {
      this.#otherRtp++;
      return;
    }
    this.#packets++;
    this.#bytes += packet.length;
    const stream = this.#streams.get(ssrc);
    if (!stream) {
      this.#streams.set(ssrc, { firstSeq: seq, highestSeq: seq });
      return;
    }
    // Extend the 16-bit number to the value nearest the highest so far, so a wrap is not a gap and a
    // late (reordered) packet is not a jump.
    let extended = stream.highestSeq - (stream.highestSeq % SEQ_MODULO) + seq;
    if (extended < stream.highestSeq - SEQ_MODULO / 2) extended += SEQ_MODULO;
    else if (extended > stream.highestSeq + SEQ_MODULO / 2) extended -= SEQ_MODULO;
    if (extended > stream.highestSeq) stream.highestSeq = extended;
  }
}
