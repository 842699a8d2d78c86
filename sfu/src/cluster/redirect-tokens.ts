/**
 * Redirect passes: when a node sends a client to the room's owner (WRONG_NODE), it signs a short
 * JWT naming the room and the target node, with the cluster's shared secret (cluster.secret). The
 * owner accepts a pass only for itself and that room, and only for a few seconds, so a pass cannot
 * be replayed elsewhere or later. A pass tells the target that the directory chose it: it claims a
 * free room for a passed client even when it is not the least loaded node.
 */
import { SignJWT, errors, jwtVerify } from 'jose';
import { SignalingError } from '../errors.ts';

const ALGORITHM = 'HS256';
const ISSUER = 'roundtable-cluster';
/** Long enough for a reconnect to another node on a slow link; short enough not to matter if leaked. */
export const REDIRECT_TTL_SECONDS = 30;

export type PassPurpose = 'redirect' | 'edge';

export class RedirectTokens {
  readonly #key: Uint8Array;

  constructor(
    secret: string,
    private readonly nodeId: string,
  ) {
    this.#key = new TextEncoder().encode(secret);
  }

  /**
   * A pass for `roomId` on node `to`: for a client sent there (`redirect`), or for this node's own
   * edge connection to the room's origin (`edge`). A pass of one kind is refused as the other.
   */
  sign(roomId: string, to: string, purpose: PassPurpose = 'redirect'): Promise<string> {
    return new SignJWT({ room: roomId, purpose })
      .setProtectedHeader({ alg: ALGORITHM })
      .setIssuer(ISSUER)
      .setAudience(to)
      .setSubject(this.nodeId)
      .setIssuedAt()
      .setExpirationTime(`${REDIRECT_TTL_SECONDS}s`)
      .sign(this.#key);
  }

  /** Checks a pass presented to this node; refuses with INVALID_REDIRECT or REDIRECT_EXPIRED. */
  async verify(token: string, roomId: string, purpose: PassPurpose = 'redirect'): Promise<string> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        audience: this.nodeId,
        requiredClaims: ['exp', 'room'],
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new SignalingError('REDIRECT_EXPIRED', 'the pass to this node has expired; open the room again');
      const reason = error instanceof errors.JOSEError ? error.code : 'malformed';
      throw new SignalingError('INVALID_REDIRECT', `the pass to this node is not valid (${reason})`);
    }
    if (payload.room !== roomId) throw new SignalingError('INVALID_REDIRECT', 'the pass to this node is for another room');
    if (payload.purpose !== purpose) throw new SignalingError('INVALID_REDIRECT', 'the pass to this node is not for this use');
    return String(payload.sub);
  }
}
