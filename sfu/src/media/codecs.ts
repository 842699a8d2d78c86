import type { types } from 'mediasoup';
import type { Config } from '../../../config/index.ts';

const OPUS: types.RouterRtpCodecCapability = {
  kind: 'audio',
  mimeType: 'audio/opus',
  clockRate: 48000,
  channels: 2,
  parameters: { useinbandfec: 1, usedtx: 1 },
};

const VIDEO: Record<Config['media']['videoCodecs'][number], types.RouterRtpCodecCapability> = {
  VP8: { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
  VP9: {
    kind: 'video',
    mimeType: 'video/VP9',
    clockRate: 90000,
    parameters: { 'profile-id': 2, 'x-google-start-bitrate': 1000 },
  },
  H264: {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: {
      'packetization-mode': 1,
      'profile-level-id': '42e01f',
      'level-asymmetry-allowed': 1,
      'x-google-start-bitrate': 1000,
    },
  },
};

/** Router codecs in order of preference: Opus, then the configured video codecs. */
export function routerMediaCodecs(media: Config['media']): types.RouterRtpCodecCapability[] {
  return [OPUS, ...media.videoCodecs.map((name) => VIDEO[name])];
}
