import type { WebinarKeys } from '../../../shared/index.ts';
import { request, withConnection } from './signaling.ts';

/** Asks the server for a new webinar and its two links' keys (`secret`: the operator's creation secret). */
export async function createWebinar(secret?: string): Promise<WebinarKeys> {
  const keys = await withConnection((socket) => request(socket, 'createWebinar', secret ? { secret } : {}));
  rememberWebinarKeys(keys);
  return keys;
}

const KEYS_PREFIX = 'roundtable:webinar-keys:';

/**
 * The server keeps only hashes of the keys and hands them back only until it restarts, so the host's
 * browser keeps its own copy to show both links later.
 */
function rememberWebinarKeys(keys: WebinarKeys): void {
  try {
    localStorage.setItem(KEYS_PREFIX + keys.roomId, JSON.stringify(keys));
  } catch (error) {
    console.warn('cannot keep the webinar links in this browser', error);
  }
}

/** The keys the server sent with the join, or else the copy this browser kept when it created the webinar. */
export function webinarKeysFor(roomId: string, fromServer: WebinarKeys | undefined): WebinarKeys | undefined {
  if (fromServer) {
    rememberWebinarKeys(fromServer);
    return fromServer;
  }
  const saved = localStorage.getItem(KEYS_PREFIX + roomId);
  if (!saved) return undefined;
  try {
    const keys = JSON.parse(saved) as WebinarKeys;
    return keys.roomId === roomId ? keys : undefined;
  } catch (error) {
    console.warn('ignoring unreadable saved webinar links', error);
    return undefined;
  }
}

/** A webinar's or a meeting's host link. */
export function hostLink(keys: Pick<WebinarKeys, 'roomId' | 'hostKey'>): string {
  return `${window.location.origin}/room/${keys.roomId}?key=${keys.hostKey}`;
}

/** The audience link says `as=viewer`, so viewers skip the camera and microphone entirely. */
export function audienceLink(keys: WebinarKeys): string {
  return `${window.location.origin}/room/${keys.roomId}?key=${keys.audienceKey}&as=viewer`;
}
