/**
 * The synthetic publisher: PlainTransports that take plain RTP from ffmpeg, and the producers on them.
 * One transport per kind, because ffmpeg sends each stream from its own socket and a comedia transport
 * accepts one remote address.
 */
import type { types } from 'mediasoup';
import type { RtpTarget } from './ffmpeg-source.ts';

/** Fixed SSRCs and payload types: ffmpeg is told to send exactly what the producers declare. */
const VIDEO = { ssrc: 22_222_222, payloadType: 101 } as const;
const AUDIO = { ssrc: 11_111_111, payloadType: 100 } as const;

export interface SyntheticPublisher {
  producers: types.Producer[];
  video: RtpTarget;
  audio?: RtpTarget;
  close(): void;
}

async function plainProducer(
  router: types.Router,
  kind: types.MediaKind,
  codec: types.RtpCodecParameters,
  ssrc: number,
): Promise<{ transport: types.PlainTransport; producer: types.Producer; target: RtpTarget }> {
  const transport = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
  try {
    const producer = await transport.produce({ kind, rtpParameters: { codecs: [codec], encodings: [{ ssrc }] } });
    return { transport, producer, target: { port: transport.tuple.localPort, ssrc, payloadType: codec.payloadType } };
  } catch (error) {
    transport.close();
    throw error;
  }
}

export async function createPublisher(router: types.Router, withAudio: boolean): Promise<SyntheticPublisher> {
  const transports: types.PlainTransport[] = [];
  const close = (): void => transports.forEach((transport) => transport.close());
  try {
    const video = await plainProducer(
      router,
      'video',
      { mimeType: 'video/VP8', payloadType: VIDEO.payloadType, clockRate: 90_000 },
      VIDEO.ssrc,
    );
    transports.push(video.transport);
    const publisher: SyntheticPublisher = { producers: [video.producer], video: video.target, close };
    if (withAudio) {
      const audio = await plainProducer(
        router,
        'audio',
        { mimeType: 'audio/opus', payloadType: AUDIO.payloadType, clockRate: 48_000, channels: 2 },
        AUDIO.ssrc,
      );
      transports.push(audio.transport);
      publisher.producers.push(audio.producer);
      publisher.audio = audio.target;
    }
    return publisher;
  } catch (error) {
    close();
    throw error;
  }
}

/** RTP packets the producers have received from ffmpeg so far (mediasoup's own count). */
export async function producerPackets(producers: readonly types.Producer[]): Promise<number> {
  let packets = 0;
  for (const producer of producers) {
    if (producer.closed) continue;
    for (const stat of await producer.getStats()) packets += stat.packetCount;
  }
  return packets;
}
