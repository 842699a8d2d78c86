import type { types } from 'mediasoup-client';
import type { ClientSettings, MediaSource } from '../../../shared/index.ts';

/** Used until the server's settings arrive: thumbnail, medium and full layers. */
const DEFAULT_SIMULCAST: ClientSettings['simulcast'] = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/**
 * Encodings per source. The camera sends simulcast layers (the SFU forwards to each receiver only the
 * layer it needs, so the sender uploads once whatever the room size); a screen sends one sharp layer.
 */
export function encodingsFor(source: MediaSource, settings: ClientSettings | undefined): types.RtpEncodingParameters[] | undefined {
  if (source === 'camera') {
    return (settings?.simulcast ?? DEFAULT_SIMULCAST).map((layer, i) => ({
      rid: `r${i}`,
      scaleResolutionDownBy: layer.scaleResolutionDownBy,
      maxBitrate: layer.maxBitrate,
      scalabilityMode: 'L1T3',
    }));
  }
  if (source === 'screen') return [{ maxBitrate: settings?.screenMaxBitrate ?? 2_500_000, maxFramerate: 15 }];
  return undefined;
}

export const CAMERA_CODEC_OPTIONS: types.ProducerCodecOptions = { videoGoogleStartBitrate: 1000 };

export const CAMERA_CONSTRAINTS: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 30, max: 30 },
};

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
