import type { types } from 'mediasoup-client';

/**
 * Three VP8 simulcast layers: thumbnail, medium, full. The SFU forwards to each receiver only the
 * layer it needs, so the sender uploads one stream whatever the room size.
 */
export const CAMERA_ENCODINGS: types.RtpEncodingParameters[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' },
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T3' },
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_500_000, scalabilityMode: 'L1T3' },
];

export const CAMERA_CODEC_OPTIONS: types.ProducerCodecOptions = { videoGoogleStartBitrate: 1000 };

export const MIC_CODEC_OPTIONS: types.ProducerCodecOptions = { opusStereo: false, opusDtx: true, opusFec: true };

export const CAMERA_CONSTRAINTS: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 30, max: 30 },
};

/** Screen content: one high-quality layer; detail matters more than frame rate. */
export const SCREEN_ENCODINGS: types.RtpEncodingParameters[] = [{ maxBitrate: 2_500_000, maxFramerate: 15 }];

export const SCREEN_CONSTRAINTS: DisplayMediaStreamOptions = {
  video: { frameRate: { ideal: 15, max: 30 } },
  audio: true,
};

/** `?res=180` asks for a small camera picture (slow devices, crowd tests). */
export function cameraConstraints(maxHeight?: number, deviceId?: string): MediaTrackConstraints {
  const base = maxHeight
    ? { width: { ideal: Math.round((maxHeight * 16) / 9) }, height: { ideal: maxHeight }, frameRate: { ideal: 15, max: 30 } }
    : CAMERA_CONSTRAINTS;
  return deviceId ? { ...base, deviceId: { exact: deviceId } } : base;
}
