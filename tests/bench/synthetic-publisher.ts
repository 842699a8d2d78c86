/**
 * The synthetic publisher: PlainTransports that take plain RTP from ffmpeg, and the producers on them.
 * One transport per kind, because ffmpeg sends each stream from its own socket and a comedia transport
 * accepts one remote address.
 */
import { performance } from 'node:perf_hooks';
import type { types } from 'mediasoup';
import { ToolError, sleep } from './cli.ts';
import type { RtpTarget } from './ffmpeg-source.ts';

/** Fixed SSRCs and payload types: ffmpeg is told to send exactly what the producers declare. */
const VIDEO = { ssrc: 22_222_222, payloadType: 101 } as const;
const AUDIO = { ssrc: 11_111_111, payloadType: 100 } as const;

/**
 * What a browser's VP8 sender declares it answers. mediasoup sends keyframe requests (and NACKs) to a
 * producer only when its codec lists them, and counts them in the producer's stats.
 */
const VIDEO_FEEDBACK: types.RtcpFeedback[] = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];

export interface PublisherOptions {
  /**
   * Declare NACK, PLI and FIR on the video codec, as browsers do, so that mediasoup asks the publisher
   * for keyframes and counts the requests. ffmpeg ignores them: the clip has a keyframe every second.
   */
  keyframeRequests?: boolean;
}

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

export async function createPublisher(
  router: types.Router,
  withAudio: boolean,
  options: PublisherOptions = {},
): Promise<SyntheticPublisher> {
  const transports: types.PlainTransport[] = [];
  const close = (): void => transports.forEach((transport) => transport.close());
  try {
    const video = await plainProducer(
      router,
      'video',
      {
        mimeType: 'video/VP8',
        payloadType: VIDEO.payloadType,
        clockRate: 90_000,
        ...(options.keyframeRequests ? { rtcpFeedback: VIDEO_FEEDBACK } : {}),
      },
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

export interface FeedbackCounts {
  /** Picture Loss Indications mediasoup sent to the publisher: keyframe requests. */
  pli: number;
  /** Full Intra Requests: keyframe requests, for senders that do not take PLI. */
  fir: number;
  /** NACKs: retransmission requests for packets lost on the way in. */
  nack: number;
}

/** RTCP feedback mediasoup has sent to the publisher of this producer so far, all its streams. */
export async function feedbackSent(producer: types.Producer): Promise<FeedbackCounts> {
  const counts: FeedbackCounts = { pli: 0, fir: 0, nack: 0 };
  if (producer.closed) return counts;
  for (const stat of await producer.getStats()) {
    counts.pli += stat.pliCount;
    counts.fir += stat.firCount;
    counts.nack += stat.nackCount;
  }
  return counts;
}

/**
 * Waits until ffmpeg's first packets reach the producers, checking `healthy` (which throws on a
 * failure) meanwhile. Returns false when interrupted.
 */
export async function waitForIngress(
  producers: readonly types.Producer[],
  timeoutMs: number,
  signal: AbortSignal,
  healthy: () => void,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while ((await producerPackets(producers)) === 0) {
    if (signal.aborted) return false;
    healthy();
    if (performance.now() > deadline) throw new ToolError(`no RTP from ffmpeg reached the producer in ${timeoutMs / 1000} s`);
    await sleep(100, signal);
  }
  return true;
}
