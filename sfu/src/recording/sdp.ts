import type { types } from 'mediasoup';

/** Where ffmpeg writes a track: WebM for VP8, VP9 and Opus, Matroska for anything else (H.264). */
export function containerFor(mimeType: string): { format: 'webm' | 'matroska'; extension: 'webm' | 'mkv' } {
  return /^(video\/(vp8|vp9)|audio\/opus)$/i.test(mimeType) ? { format: 'webm', extension: 'webm' } : { format: 'matroska', extension: 'mkv' };
}

/**
 * The session description ffmpeg reads to receive one consumer's RTP on 127.0.0.1 (`rtpPort`, RTCP
 * on the next port). Only the consumer's first codec: a recording consumer is made for one codec.
 */
export function sdpFor(rtpParameters: types.RtpParameters, kind: types.MediaKind, rtpPort: number): string {
  const codec = rtpParameters.codecs[0];
  if (!codec) throw new Error('the consumer has no codec');
  const [, name] = codec.mimeType.split('/');
  const channels = codec.channels && codec.channels > 1 ? `/${codec.channels}` : '';
  const fmtp = Object.entries(codec.parameters ?? {})
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(';');
  return [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    's=Roundtable recording',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=${kind} ${rtpPort} RTP/AVP ${codec.payloadType}`,
    `a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${channels}`,
    ...(fmtp ? [`a=fmtp:${codec.payloadType} ${fmtp}`] : []),
    'a=recvonly',
    '',
  ].join('\r\n');
}
