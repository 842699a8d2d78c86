import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { errors, jwtVerify } from 'jose';
import type { Config } from '../../../config/index.ts';
import type { RoomTokenClaims } from '../../../shared/index.ts';
import { roomIdSchema } from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';

const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
const PUBLIC_KEY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const ROLES = new Set(['host', 'participant', 'viewer']);
const KINDS = new Set(['meeting', 'webinar']);

/** access.tokenPublicKey holds a PEM, or the path of a file that does. */
function publicKeyFrom(value: string): KeyObject {
  const pem = value.includes('-----BEGIN') ? value : existsSync(value) ? readFileSync(value, 'utf8') : value;
  try {
    return createPublicKey(pem);
  } catch (error) {
    throw new Error(`access.tokenPublicKey is neither a PEM public key nor a file holding one: ${(error as Error).message}`);
  }
}

/**
 * Verifies room tokens (access.policy = token): JWTs minted by the operator's own application,
 * signed with access.tokenSecret (HS256/384/512) or the private half of access.tokenPublicKey.
 * `jose` checks the signature, `exp`, `nbf`, and `iss`/`aud` when configured; this checks the
 * Roundtable claims. Every refusal has a stable code: TOKEN_EXPIRED, INVALID_TOKEN, TOKEN_WRONG_ROOM.
 */
export class RoomTokens {
  readonly #key: Uint8Array | KeyObject;
  readonly #algorithms: string[];

  constructor(private readonly access: Config['access']) {
    if (access.tokenPublicKey) {
      this.#key = publicKeyFrom(access.tokenPublicKey);
      this.#algorithms = PUBLIC_KEY_ALGORITHMS;
    } else if (access.tokenSecret) {
      this.#key = new TextEncoder().encode(access.tokenSecret);
      this.#algorithms = HMAC_ALGORITHMS;
    } else {
      throw new Error('access.tokenSecret or access.tokenPublicKey is required to verify room tokens');
    }
  }

  async verify(token: string, roomId: string): Promise<RoomTokenClaims> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        algorithms: this.#algorithms,
        requiredClaims: ['exp', 'room'],
        clockTolerance: this.access.tokenClockToleranceSeconds,
        ...(this.access.tokenIssuer ? { issuer: this.access.tokenIssuer } : {}),
        ...(this.access.tokenAudience ? { audience: this.access.tokenAudience } : {}),
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new SignalingError('TOKEN_EXPIRED', 'this room token has expired; get a new one from the application that sent you here');
      const reason = error instanceof errors.JOSEError ? error.code : 'malformed';
      throw new SignalingError('INVALID_TOKEN', `this room token is not valid (${reason})`);
    }
    const claims = payload as Partial<RoomTokenClaims> & Record<string, unknown>;
    if (typeof claims.room !== 'string' || !roomIdSchema.safeParse(claims.room).success) {
      throw new SignalingError('INVALID_TOKEN', 'the room token names no valid room');
    }
    if (claims.room !== roomId) throw new SignalingError('TOKEN_WRONG_ROOM', 'this room token is for another room');
    if (claims.role !== undefined && !ROLES.has(claims.role)) throw new SignalingError('INVALID_TOKEN', 'the room token has an unknown role');
    if (claims.kind !== undefined && !KINDS.has(claims.kind)) throw new SignalingError('INVALID_TOKEN', 'the room token has an unknown kind');
    if (claims.name !== undefined && typeof claims.name !== 'string') throw new SignalingError('INVALID_TOKEN', 'the room token has a name that is not text');
    return claims as RoomTokenClaims;
  }
}
