/**
 * A simulcast camera made of three pre-encoded clips: one ffmpeg process streams them unchanged
 * (`-c copy`, in real time) as three RTP streams, one per layer, to a single PlainTransport port.
 */
import dgram from 'node:dgram';
import { FfmpegSource, encodeClip } from './ffmpeg-source.ts';

/** One simulcast layer of the clip, as the client's camera sends it (¼, ½ and full size of 720p). */
export interface SimulcastLayer {
  width: number;
  height: number;
  kbps: number;
}

/** Lowest first, like the encodings of a browser's camera producer (client/src/services/simulcast.ts). */
export const SIMULCAST_LAYERS: readonly SimulcastLayer[] = [
  { width: 320, height: 180, kbps: 150 },
  { width: 640, height: 360, kbps: 500 },
  { width: 1280, height: 720, kbps: 1500 },
];

export const CLIP_FPS = 30;

export interface SimulcastTarget {
  /** The transport's port: all three layers go there, as one camera's layers go to one transport. */
  port: number;
  payloadType: number;
  /** One per layer, lowest first. */
  ssrcs: readonly number[];
}

/** Encodes (or finds in the cache) the three clips, so that the first publisher does not pay for it. */
export function encodeLayerClips(): string[] {
  return SIMULCAST_LAYERS.map((layer) =>
    encodeClip({ width: layer.width, height: layer.height, fps: CLIP_FPS, videoBitrate: layer.kbps * 1000 }),
  );
}

/**
 * A free UDP port on 127.0.0.1, for ffmpeg's three outputs to share. It is free when asked; ffmpeg
 * binds it a moment later, which only a concurrent program taking the same port could spoil.
 */
export async function freeLocalPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * ffmpeg's RTP muxer writing to a plain udp:// URL rather than rtp://. Two reasons:
 * - rtp:// opens its own socket per output and a second one for RTCP, so the layers would arrive
 *   from four source ports, and a comedia transport accepts packets from the first one only. Over
 *   udp://, every output binds the same local port (`reuse=1`: SO_REUSEADDR), so all three layers
 *   come from one address, as a browser's do.
 * - The muxer then writes its RTCP sender reports into the same socket as the media (rtcp-mux).
 *   mediasoup needs a sender report on both streams before a consumer may switch from one spatial
 *   layer to another (SimulcastConsumer::CanSwitchToSpatialLayer aligns their timestamps with
 *   them); without reports a consumer would stay on the first layer it was given.
 */
function layerOutput(input: number, target: SimulcastTarget, localPort: number, maxSeconds: number): string[] {
  const ssrc = target.ssrcs[input];
  if (ssrc === undefined) throw new Error(`no SSRC for simulcast layer ${input}`);
  return [
    '-map', `${input}:v`, '-c:v', 'copy',
    '-t', String(maxSeconds),
    '-payload_type', String(target.payloadType),
    '-ssrc', String(ssrc),
    '-f', 'rtp',
    // 1200-byte packets, as WebRTC senders use.
    `udp://127.0.0.1:${target.port}?localport=${localPort}&reuse=1&pkt_size=1200`,
  ];
}

/**
 * Starts one ffmpeg that streams every clip in a loop, each in real time (`-re` per input), stopping
 * by itself after `maxSeconds` whatever happens to this process.
 */
export async function startSimulcastSource(clips: readonly string[], target: SimulcastTarget, maxSeconds: number): Promise<FfmpegSource> {
  if (clips.length !== target.ssrcs.length) throw new Error(`${clips.length} clips for ${target.ssrcs.length} SSRCs`);
  const localPort = await freeLocalPort();
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
  for (const clip of clips) args.push('-re', '-stream_loop', '-1', '-i', clip);
  clips.forEach((_, input) => args.push(...layerOutput(input, target, localPort, maxSeconds)));
  return FfmpegSource.spawn(args);
}
