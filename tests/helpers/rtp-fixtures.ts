import type { RtpParametersPayload } from '../../shared/index.ts';

/** What a browser sends for 3-layer VP8 simulcast (shape taken from mediasoup-client's output). */
export function vp8SimulcastParameters(mid = '0'): RtpParametersPayload {
  return {
    mid,
    codecs: [
      {
        mimeType: 'video/VP8',
        payloadType: 96,
        clockRate: 90000,
        parameters: {},
        rtcpFeedback: [{ type: 'goog-remb' }, { type: 'transport-cc' }, { type: 'ccm', parameter: 'fir' }, { type: 'nack' }, { type: 'nack', parameter: 'pli' }],
      },
      { mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: 96 }, rtcpFeedback: [] },
    ],
    headerExtensions: [
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4, encrypt: false, parameters: {} },
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', id: 10, encrypt: false, parameters: {} },
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id', id: 11, encrypt: false, parameters: {} },
      { uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 3, encrypt: false, parameters: {} },
    ],
    encodings: [
      { rid: 'r0', scalabilityMode: 'L1T3', maxBitrate: 150000, scaleResolutionDownBy: 4 },
      { rid: 'r1', scalabilityMode: 'L1T3', maxBitrate: 500000, scaleResolutionDownBy: 2 },
      { rid: 'r2', scalabilityMode: 'L1T3', maxBitrate: 1500000, scaleResolutionDownBy: 1 },
    ],
    rtcp: { cname: 'test-cname', reducedSize: true },
  };
}

export function opusParameters(mid = '1', ssrc = 11111111): RtpParametersPayload {
  return {
    mid,
    codecs: [
      { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc' }] },
    ],
    headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4, encrypt: false, parameters: {} }],
    encodings: [{ ssrc, dtx: false }],
    rtcp: { cname: 'test-cname', reducedSize: true },
  };
}

export const DTLS_PARAMETERS = {
  role: 'client' as const,
  fingerprints: [
    {
      algorithm: 'sha-256' as const,
      value: 'E5:F5:CA:A7:2D:93:E6:16:AC:21:09:9F:23:51:62:8C:D0:66:E9:0C:22:54:2B:82:0C:DF:E0:C5:2C:7E:CD:53',
    },
  ],
};
