/** Media vocabulary shared by server and client. */
export const MEDIA_SOURCES = ['camera', 'microphone', 'screen', 'screen-audio'] as const;
export type MediaSource = (typeof MEDIA_SOURCES)[number];
export type MediaKind = 'audio' | 'video';

export function kindOfSource(source: MediaSource): MediaKind {
  switch (source) {
    case 'camera':
    case 'screen':
      return 'video';
    case 'microphone':
    case 'screen-audio':
      return 'audio';
    default:
      return assertUnreachable(source);
  }
}

export function assertUnreachable(value: never): never {
  throw new Error(`unreachable value: ${JSON.stringify(value)}`);
}
