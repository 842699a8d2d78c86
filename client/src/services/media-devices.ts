import { cameraConstraints } from './simulcast.ts';

export interface LocalMedia {
  camera?: MediaStreamTrack;
  microphone?: MediaStreamTrack;
  /** Why a requested device is missing, in words for the person using the app. */
  problem?: string;
}

function explain(error: unknown, what: string): string {
  const name = error instanceof DOMException ? error.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return `Permission to use the ${what} was denied. Allow it in the browser's site settings, or join without it.`;
    case 'NotFoundError':
    case 'OverconstrainedError':
      return `No ${what} was found.`;
    case 'NotReadableError':
    case 'AbortError':
      return `The ${what} is busy or unavailable (another app may be using it).`;
    default:
      return `Could not start the ${what}${error instanceof Error ? `: ${error.message}` : ''}.`;
  }
}

/** Opens camera and microphone separately, so one refused device does not cost the other. */
export async function openLocalMedia(want: { camera: boolean; microphone: boolean; cameraHeight?: number }): Promise<LocalMedia> {
  const media: LocalMedia = {};
  const problems: string[] = [];
  if (!navigator.mediaDevices?.getUserMedia) {
    return { problem: 'This page cannot use cameras or microphones: open it over https:// or on localhost.' };
  }
  if (want.camera) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: cameraConstraints(want.cameraHeight) });
      media.camera = stream.getVideoTracks()[0];
    } catch (error) {
      problems.push(explain(error, 'camera'));
    }
  }
  if (want.microphone) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      media.microphone = stream.getAudioTracks()[0];
    } catch (error) {
      problems.push(explain(error, 'microphone'));
    }
  }
  if (problems.length) media.problem = problems.join(' ');
  return media;
}
