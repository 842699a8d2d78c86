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
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

export type Reply<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };
