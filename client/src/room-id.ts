import { roomIdSchema } from '../../shared/signaling.ts';

/** Unambiguous lowercase letters and digits (no 0/o, 1/l/i). */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length);

/** A meeting id like "k7dm-qw3x-9fhp-a2rt": 16 symbols from 31, about 79 bits, not guessable. */
export function randomRoomId(): string {
  let symbols = '';
  while (symbols.length < 16) {
    for (const byte of crypto.getRandomValues(new Uint8Array(32))) {
      // Rejection sampling keeps every symbol equally likely.
      if (byte < UNBIASED_LIMIT && symbols.length < 16) symbols += ALPHABET[byte % ALPHABET.length];
    }
  }
  return symbols.match(/.{4}/g)!.join('-');
}

/** The server's own rule for room ids (shared/), so the client never disagrees with it. */
export function isRoomId(id: string): boolean {
  return roomIdSchema.safeParse(id).success;
}

/** Accepts a bare id or a pasted invite link. */
export function roomIdFromInput(input: string): string | undefined {
  const trimmed = input.trim();
  const fromLink = /\/room\/([^/?#]+)/.exec(trimmed)?.[1];
  const candidate = fromLink ? decodeURIComponent(fromLink) : trimmed;
  return isRoomId(candidate) ? candidate : undefined;
}
