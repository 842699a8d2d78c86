import { timingSafeEqual } from 'node:crypto';
import type { Config } from '../../../config/index.ts';
import { type MeetingKeys, type RequestPayload, type Role, type RoomKind, type WebinarKeys, displayNameSchema } from '../../../shared/index.ts';
import { SignalingError } from '../errors.ts';
import { RoomDirectory, hashSecret } from './RoomDirectory.ts';
import { RoomTokens } from './room-tokens.ts';

/** Who is knocking, as the access policy decided: what to open, with which role and name. */
export interface JoinEntry {
  roomId: string;
  kind: RoomKind;
  role: Role;
  displayName: string;
  /**
   * Let in by a host grant (the host link, or a token with role host): passes a locked room and the
   * lobby. Everyone else is subject to both.
   */
  hostGrant: boolean;
}

type JoinRequest = Pick<RequestPayload<'join'>, 'roomId' | 'displayName' | 'key' | 'token'>;

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  // Hashing first makes the comparison constant-time whatever the lengths.
  return timingSafeEqual(hashSecret(given), hashSecret(expected));
}

/**
 * The access policy (access.policy): who may create rooms, and what a join request opens.
 * - open: anyone creates meetings and webinars; a meeting id nobody used yet opens a new meeting.
 * - secret: creating needs access.creationSecret; only created rooms (and their links) can be joined.
 * - token: every join carries a JWT from the operator's application; it names the room, and may name
 *   the person, their role and what kind of room to open. Nothing is created any other way.
 */
export class Access {
  readonly #tokens: RoomTokens | undefined;

  constructor(
    readonly directory: RoomDirectory,
    private readonly config: Config['access'],
  ) {
    this.#tokens = config.policy === 'token' ? new RoomTokens(config) : undefined;
  }

  get policy(): Config['access']['policy'] {
    return this.config.policy;
  }

  createMeeting(secret: string | undefined): MeetingKeys {
    this.#checkCreation(secret);
    return this.directory.createMeeting();
  }

  createWebinar(secret: string | undefined): WebinarKeys {
    this.#checkCreation(secret);
    return this.directory.createWebinar();
  }

  /**
   * Whether a pre-join connectivity check may probe the relay path, which hands out TURN credentials:
   * on an open server anyone may; on a secret server, for a room that exists; on a token server,
   * with a valid token for the room. Never throws: a refusal only leaves the relay path out.
   */
  async mayProbeRelay(request: { roomId?: string | undefined; token?: string | undefined }): Promise<boolean> {
    const { roomId, token } = request;
    if (this.config.policy === 'open') return true;
    if (!roomId) return false;
    if (!this.#tokens) return this.directory.live(roomId) !== undefined;
    if (!token) return false;
    return this.#tokens.verify(token, roomId).then(
      () => true,
      () => false,
    );
  }

  /** Decides a join, or refuses it with a stable code; a refused join never creates anything. */
  async resolveJoin(request: JoinRequest): Promise<JoinEntry> {
    if (this.#tokens) return this.#byToken(this.#tokens, request);
    const { roomId, displayName, key } = request;
    if (request.token) throw new SignalingError('INVALID_TOKEN', 'this server does not use room tokens');
    if (this.directory.isWebinar(roomId)) {
      const role = this.directory.roleFor(roomId, key);
      return { roomId, kind: 'webinar', role, displayName, hostGrant: role === 'host' };
    }
    if (key) {
      // A meeting's host link.
      this.directory.roleFor(roomId, key);
      return { roomId, kind: 'meeting', role: 'host', displayName, hostGrant: true };
    }
    if (!this.directory.live(roomId)) {
      if (this.config.policy !== 'open') throw new SignalingError('ROOM_NOT_FOUND', 'no such meeting on this server; check the link');
      this.directory.ensureStored(roomId, 'meeting');
    }
    this.directory.touch(roomId);
    return { roomId, kind: 'meeting', role: 'participant', displayName, hostGrant: false };
  }

  async #byToken(tokens: RoomTokens, request: JoinRequest): Promise<JoinEntry> {
    const { roomId } = request;
    if (!request.token) throw new SignalingError('TOKEN_REQUIRED', 'this server admits people with a room token from its application');
    const claims = await tokens.verify(request.token, roomId);
    const name = claims.name === undefined ? { success: true as const, data: request.displayName } : displayNameSchema.safeParse(claims.name);
    if (!name.success) throw new SignalingError('INVALID_TOKEN', 'the room token has an unusable name');
    const stored = this.directory.ensureStored(roomId, this.directory.live(roomId)?.kind ?? claims.kind ?? 'meeting');
    this.directory.touch(roomId);
    const host = claims.role === 'host';
    const role: Role = host ? 'host' : stored.kind === 'webinar' ? 'viewer' : 'participant';
    return { roomId, kind: stored.kind, role, displayName: name.data, hostGrant: host };
  }

  #checkCreation(secret: string | undefined): void {
    if (this.config.policy === 'token') {
      throw new SignalingError('FORBIDDEN', 'rooms on this server are opened with tokens from its application');
    }
    if (this.config.policy === 'secret' && !sameSecret(secret, this.config.creationSecret!)) {
      throw new SignalingError('CREATION_SECRET_REQUIRED', 'creating rooms on this server needs its creation secret');
    }
  }
}
