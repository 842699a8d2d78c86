import type { WebinarKeys } from '../../../shared/index.ts';
import { connectSignaling, request } from './signaling.ts';

/** Asks the server for a new webinar and its two links' keys, over a short-lived connection. */
export async function createWebinar(): Promise<WebinarKeys> {
  const socket = connectSignaling();
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', () => reject(new Error('The Roundtable server cannot be reached.')));
    });
    return await request(socket, 'createWebinar', {});
  } finally {
    socket.disconnect();
  }
}

export function hostLink(keys: WebinarKeys): string {
  return `${window.location.origin}/room/${keys.roomId}?key=${keys.hostKey}`;
}

/** The audience link says `as=viewer`, so viewers skip the camera and microphone entirely. */
export function audienceLink(keys: WebinarKeys): string {
  return `${window.location.origin}/room/${keys.roomId}?key=${keys.audienceKey}&as=viewer`;
}
