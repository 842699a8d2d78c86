/**
 * Synthetic meeting participants that publish a simulcast camera: a comedia PlainTransport with a VP8
 * producer of three encodings told apart by SSRC, the way mediasoup receives a browser's simulcast.
 */
import type { types } from 'mediasoup';
import type { SimulcastTarget } from './simulcast-source.ts';

const PAYLOAD_TYPE = 101;
/** Participant i's layer l sends SSRC base + 10 i + l: readable in captures, never shared. */
const SSRC_BASE = 30_000_000;

export interface SimulcastPublisher {
  index: number;
  transport: types.PlainTransport;
  producer: types.Producer;
  target: SimulcastTarget;
}

export async function createSimulcastPublisher(router: types.Router, index: number, layers: number): Promise<SimulcastPublisher> {
  const transport = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
  try {
    const ssrcs = Array.from({ length: layers }, (_, layer) => SSRC_BASE + 10 * index + layer);
    const producer = await transport.produce({
      kind: 'video',
      rtpParameters: {
        // No NACK, PLI or FIR: ffmpeg streams a file and answers nothing; each clip has a keyframe every
        // second, which is what a consumer switching layers waits for.
        codecs: [{ mimeType: 'video/VP8', payloadType: PAYLOAD_TYPE, clockRate: 90_000 }],
        encodings: ssrcs.map((ssrc) => ({ ssrc })),
      },
      appData: { participant: index },
    });
    return { index, transport, producer, target: { port: transport.tuple.localPort, payloadType: PAYLOAD_TYPE, ssrcs } };
  } catch (error) {
    transport.close();
    throw error;
  }
}

/** Bytes and packets one producer has received so far, per layer (index into the SSRC list). */
export interface LayerCounters {
  bytes: number[];
  packets: number[];
}

/** mediasoup's own counts of what reached each layer of the producers. */
export async function layerCounters(publishers: readonly SimulcastPublisher[]): Promise<LayerCounters[]> {
  return Promise.all(
    publishers.map(async ({ producer, target }) => {
      const counters: LayerCounters = { bytes: target.ssrcs.map(() => 0), packets: target.ssrcs.map(() => 0) };
      if (producer.closed) return counters;
      for (const stat of await producer.getStats()) {
        const layer = target.ssrcs.indexOf(stat.ssrc);
        if (layer < 0) continue; // an RTX stream, which these producers do not declare
        counters.bytes[layer] = stat.byteCount;
        counters.packets[layer] = stat.packetCount;
      }
      return counters;
    }),
  );
}

/** True when every layer of every producer has received RTP. */
export function allLayersFlowing(counters: readonly LayerCounters[]): boolean {
  return counters.every((counter) => counter.packets.every((packets) => packets > 0));
}
