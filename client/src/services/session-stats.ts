import type { types } from 'mediasoup-client';
import type { ConsumerInfo, MediaSource } from '../../../shared/index.ts';

export interface InboundStat {
  peerId: string;
  source: MediaSource;
  kind: string;
  codec: string;
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  jitter: number;
}

export interface OutboundStat {
  source: MediaSource;
  rid?: string;
  codec: string;
  bytesSent: number;
  frameWidth: number;
  frameHeight: number;
  /** From the receiver report for this stream. */
  fractionLost?: number;
  roundTripTime?: number;
  qualityLimitationReason?: string;
}

export interface SessionStats {
  timestamp: number;
  inbound: InboundStat[];
  outbound: OutboundStat[];
  /** Round-trip time to the server on the active ICE pair, seconds. */
  sendRtt?: number;
  recvRtt?: number;
}

type Report = Record<string, unknown>;

const num = (report: Report, key: string): number => (typeof report[key] === 'number' ? (report[key] as number) : 0);
const str = (report: Report, key: string): string | undefined =>
  typeof report[key] === 'string' ? (report[key] as string) : undefined;

function codecOf(all: RTCStatsReport, report: Report): string {
  const codecId = str(report, 'codecId');
  const codec = codecId ? (all.get(codecId) as Report | undefined) : undefined;
  return (codec && str(codec, 'mimeType')?.split('/')[1]) ?? '';
}

async function pairRtt(transport: types.Transport | undefined): Promise<number | undefined> {
  if (!transport || transport.closed) return undefined;
  let rtt: number | undefined;
  (await transport.getStats()).forEach((report: Report) => {
    if (report.type === 'candidate-pair' && report.nominated && report.state === 'succeeded') {
      rtt = num(report, 'currentRoundTripTime');
    }
  });
  return rtt;
}

/** One snapshot of what the browser measures on every stream, for quality indicators and the stats panel. */
export async function collectStats(
  consumers: Iterable<{ consumer: types.Consumer; info: ConsumerInfo }>,
  producers: ReadonlyMap<MediaSource, types.Producer>,
  transports: { send?: types.Transport; recv?: types.Transport },
): Promise<SessionStats> {
  const stats: SessionStats = { timestamp: Date.now(), inbound: [], outbound: [] };
  for (const { consumer, info } of consumers) {
    if (consumer.closed) continue;
    const all = await consumer.getStats();
    all.forEach((report: Report) => {
      if (report.type !== 'inbound-rtp') return;
      stats.inbound.push({
        peerId: info.peerId,
        source: info.source,
        kind: info.kind,
        codec: codecOf(all, report),
        bytesReceived: num(report, 'bytesReceived'),
        packetsReceived: num(report, 'packetsReceived'),
        packetsLost: num(report, 'packetsLost'),
        framesDecoded: num(report, 'framesDecoded'),
        frameWidth: num(report, 'frameWidth'),
        frameHeight: num(report, 'frameHeight'),
        jitter: num(report, 'jitter'),
      });
    });
  }
  for (const [source, producer] of producers) {
    if (producer.closed) continue;
    const all = await producer.getStats();
    const remote = new Map<number, Report>();
    all.forEach((report: Report) => {
      if (report.type === 'remote-inbound-rtp') remote.set(num(report, 'ssrc'), report);
    });
    all.forEach((report: Report) => {
      if (report.type !== 'outbound-rtp') return;
      const rr = remote.get(num(report, 'ssrc'));
      const rid = str(report, 'rid');
      const limitation = str(report, 'qualityLimitationReason');
      stats.outbound.push({
        source,
        ...(rid ? { rid } : {}),
        codec: codecOf(all, report),
        bytesSent: num(report, 'bytesSent'),
        frameWidth: num(report, 'frameWidth'),
        frameHeight: num(report, 'frameHeight'),
        ...(rr ? { fractionLost: num(rr, 'fractionLost'), roundTripTime: num(rr, 'roundTripTime') } : {}),
        ...(limitation ? { qualityLimitationReason: limitation } : {}),
      });
    });
  }
  const [sendRtt, recvRtt] = await Promise.all([pairRtt(transports.send), pairRtt(transports.recv)]);
  if (sendRtt !== undefined) stats.sendRtt = sendRtt;
  if (recvRtt !== undefined) stats.recvRtt = recvRtt;
  return stats;
}
