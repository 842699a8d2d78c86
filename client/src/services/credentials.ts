/**
 * The resume credentials of this browser's place in a room. Kept in localStorage so a reload or a
 * second tab takes the same place back (replacing the stale one) instead of appearing twice.
 */
export interface RoomCredentials {
  peerId: string;
  token: string;
}

const key = (roomId: string) => `roundtable.credentials.${roomId}`;

export function loadCredentials(roomId: string): RoomCredentials | undefined {
  try {
    const parsed = JSON.parse(localStorage.getItem(key(roomId)) ?? 'null') as Partial<RoomCredentials> | null;
    return parsed && typeof parsed.peerId === 'string' && typeof parsed.token === 'string'
      ? { peerId: parsed.peerId, token: parsed.token }
      : undefined;
  } catch {
    return undefined; // unreadable storage: join as a new participant
  }
}

export function saveCredentials(roomId: string, credentials: RoomCredentials): void {
  localStorage.setItem(key(roomId), JSON.stringify(credentials));
}

export function forgetCredentials(roomId: string): void {
  localStorage.removeItem(key(roomId));
}
