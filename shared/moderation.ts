/**
 * Host control: who may create and enter rooms, and what hosts may do to a meeting and its people.
 * The server enforces every rule here against the sender's own role; the client only mirrors them.
 */
import type { FileSharingPolicy } from './files.ts';

/** Who may create rooms (`access.policy`). */
export const ROOM_POLICIES = ['open', 'secret', 'token'] as const;
export type RoomPolicy = (typeof ROOM_POLICIES)[number];

/** Settings hosts change during a meeting; stored, so they survive a restart. */
export interface RoomSettings {
  /** No new joins (hosts holding the host link or a host token still enter). */
  locked: boolean;
  /** New joiners wait until a host admits them. */
  lobby: boolean;
  /** Who may share files; the server's `files.whoMayShare` until a host changes it. */
  fileSharing: FileSharingPolicy;
}

/** Someone waiting in the lobby, as hosts see them. */
export interface LobbyEntry {
  id: string;
  displayName: string;
  /** Epoch ms when they started waiting. */
  since: number;
}

/** A meeting's secret: the host link carries `hostKey`; the invite link is the bare room URL. */
export interface MeetingKeys {
  roomId: string;
  hostKey: string;
}

/** What a host may switch off for someone else. The person turns it back on themselves. */
export const MODERATED_SOURCES = ['microphone', 'camera', 'screen'] as const;
export type ModeratedSource = (typeof MODERATED_SOURCES)[number];

/**
 * Roles that run a room. In a meeting the host makes co-hosts and passes host on; co-hosts have every
 * other power but cannot act against a host. In a webinar they also manage the stage.
 */
export type ModeratorRole = 'host' | 'cohost';

export function isModerator(role: string): role is ModeratorRole {
  return role === 'host' || role === 'cohost';
}

/** The claims of a room token (`access.policy = token`), minted by the operator's own application. */
export interface RoomTokenClaims {
  /** The room this token opens; required. */
  room: string;
  /** Display name shown to others; the name typed by the person when absent. */
  name?: string;
  /** `host` runs the room; `participant` (the default) joins a meeting; `viewer` watches a webinar. */
  role?: 'host' | 'participant' | 'viewer';
  /** What to create when the room does not exist yet (default `meeting`). */
  kind?: 'meeting' | 'webinar';
  /** Seconds since the epoch; required. */
  exp: number;
}

export const LOBBY_MAX_WAITING = 200;
