/**
 * Stable error codes carried by every failed reply. Clients branch on `code`; `message` is for people.
 * Add codes, never rename them.
 */
export const ERROR_CODES = [
  'INVALID_PAYLOAD',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'UNKNOWN_EVENT',
  'NOT_JOINED',
  'ALREADY_JOINED',
  'NOT_READY',
  'ROOM_FULL',
  'TRANSPORT_NOT_FOUND',
  'TRANSPORT_LIMIT',
  'WRONG_TRANSPORT_DIRECTION',
  'TRANSPORT_ALREADY_CONNECTED',
  'PRODUCER_NOT_FOUND',
  'PRODUCER_LIMIT',
  'CONSUMER_NOT_FOUND',
  'CANNOT_CONSUME_OWN_PRODUCER',
  'ALREADY_CONSUMING',
  'CANNOT_CONSUME',
  'INCOMPATIBLE_RTP_CAPABILITIES',
  'INVALID_RTP_PARAMETERS',
  'INVALID_DTLS_PARAMETERS',
  'FORBIDDEN',
  'INVALID_LINK',
  'PEER_NOT_FOUND',
  'NOT_INVITED',
  'INTERNAL_ERROR',
  'SERVER_FULL',
  'TOO_MANY_ROOMS',
  'TOO_MANY_JOINS',
  'TOO_MANY_CONNECTIONS',
  'ORIGIN_NOT_ALLOWED',
  /** The room is locked: no new joins. */
  'ROOM_LOCKED',
  /** A host denied this joiner in the lobby. */
  'LOBBY_DENIED',
  /** Too many people wait in this room's lobby already. */
  'LOBBY_FULL',
  /** A host removed this identity from the room. */
  'REMOVED',
  /** No such room, and this server's policy does not create rooms on join. */
  'ROOM_NOT_FOUND',
  /** Creating rooms needs the operator's shared secret (access.policy = secret), missing or wrong. */
  'CREATION_SECRET_REQUIRED',
  /** Rooms are entered with a token from the operator's application (access.policy = token). */
  'TOKEN_REQUIRED',
  /** The token is malformed or its signature does not verify. */
  'INVALID_TOKEN',
  'TOKEN_EXPIRED',
  /** The token is for another room. */
  'TOKEN_WRONG_ROOM',
  /** The server is shutting down (a restart): no new joins; try again once it is back. */
  'SHUTTING_DOWN',
  /** Cluster mode: another node serves this room; the error's `redirect` says where, with a pass. */
  'WRONG_NODE',
  /** Cluster mode: the redirect pass is malformed, forged, or for another room or node. */
  'INVALID_REDIRECT',
  /** Cluster mode: the redirect pass is too old; open the room again. */
  'REDIRECT_EXPIRED',
  /** Cluster mode: the shared store cannot be reached, so the room cannot be placed now. */
  'CLUSTER_UNAVAILABLE',
  /** Recording refused: the recordings folder's disk has less free space than recording.minFreeMb. */
  'RECORDING_NO_SPACE',
  /** Recording cannot run on this server (no ffmpeg, or the recordings folder cannot be written). */
  'RECORDING_UNAVAILABLE',
  /** startRecording while a recording runs, or stopRecording while none does. */
  'RECORDING_STATE',
  /** No recording with that id in this room (deleted, expired, or never made). */
  'RECORDING_NOT_FOUND',
  /** File sharing is switched off on this server (files.enabled). */
  'FILE_SHARING_DISABLED',
  /** The file is larger than the server's limit (files.maxFileBytes); the message names it. */
  'FILE_TOO_LARGE',
  /** The room's file storage (files.maxRoomBytes) or file count (files.maxFilesPerRoom) is used up. */
  'FILES_STORAGE_FULL',
  /** No such file in this room (never shared, cancelled, or failed). */
  'FILE_NOT_FOUND',
  /** The upload sent a chunk the server refused (another's file, a gap, past the size, malformed). */
  'FILE_CHUNK_REJECTED',
  /** The upload stopped: its channel closed, no data came for too long, or the server could not store it. */
  'FILE_UPLOAD_FAILED',
  /** The server could not send the file to this client (its channel closed or overflowed); fetch it again. */
  'FILE_DOWNLOAD_FAILED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Where to go instead (WRONG_NODE): a node's base URL and a short-lived pass for the join there. */
export interface Redirect {
  url: string;
  token: string;
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  redirect?: Redirect;
}

export type Reply<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };
