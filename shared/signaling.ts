/**
 * The signaling contract: every client request with its payload schema and reply type, and every
 * server notification. Both sides import these; the server validates each payload against its schema.
 */
import { z } from 'zod';
import type { Reply } from './errors.ts';
import { LIMITS } from './limits.ts';
import { MEDIA_SOURCES, type MediaKind, type MediaSource } from './media.ts';
import { dtlsParametersSchema, rtpCapabilitiesSchema, rtpParametersSchema } from './rtp-schemas.ts';

export const roomIdSchema = z
  .string()
  .min(LIMITS.roomIdMinLength)
  .max(LIMITS.roomIdMaxLength)
  .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "-" and "_" only');

export const displayNameSchema = z
  .string()
  .trim()
  .min(1, 'a display name is required')
  .max(LIMITS.displayNameMaxLength)
  // Control characters and bidi overrides would let a name disguise itself in other people's UI.
  .refine((name) => !/[\p{Cc}\u202A-\u202E\u2066-\u2069]/u.test(name), 'control characters are not allowed');

const entityId = z.string().min(1).max(LIMITS.idMaxLength);

export const requestSchemas = {
  join: z.strictObject({ roomId: roomIdSchema, displayName: displayNameSchema }),
  /** Sent once the client has loaded its device; from then on the server creates consumers for it. */
  ready: z.strictObject({ rtpCapabilities: rtpCapabilitiesSchema }),
  createTransport: z.strictObject({ direction: z.enum(['send', 'recv']) }),
  connectTransport: z.strictObject({ transportId: entityId, dtlsParameters: dtlsParametersSchema }),
  produce: z.strictObject({
    transportId: entityId,
    kind: z.enum(['audio', 'video']),
    source: z.enum(MEDIA_SOURCES),
    rtpParameters: rtpParametersSchema,
  }),
  closeProducer: z.strictObject({ producerId: entityId }),
  /** Subscribe again to a producer (the server subscribes automatically on arrival). */
  consume: z.strictObject({ producerId: entityId }),
  resumeConsumer: z.strictObject({ consumerId: entityId }),
  leave: z.strictObject({}),
} as const;

export type RequestName = keyof typeof requestSchemas;
export type RequestPayload<N extends RequestName> = z.infer<(typeof requestSchemas)[N]>;
export type RtpCapabilitiesPayload = z.infer<typeof rtpCapabilitiesSchema>;
export type RtpParametersPayload = z.infer<typeof rtpParametersSchema>;
export type DtlsParametersPayload = z.infer<typeof dtlsParametersSchema>;

export interface ProducerInfo {
  id: string;
  peerId: string;
  kind: MediaKind;
  source: MediaSource;
  paused: boolean;
}

export interface PeerInfo {
  id: string;
  displayName: string;
  producers: ProducerInfo[];
}

export interface IceParameters {
  usernameFragment: string;
  password: string;
  iceLite?: boolean;
}

export interface IceCandidate {
  foundation: string;
  priority: number;
  ip: string;
  protocol: 'udp' | 'tcp';
  port: number;
  type: 'host';
  tcpType?: 'passive';
}

export interface TransportInfo {
  id: string;
  direction: 'send' | 'recv';
  iceParameters: IceParameters;
  iceCandidates: IceCandidate[];
  dtlsParameters: DtlsParametersPayload;
}

export interface ConsumerInfo {
  id: string;
  producerId: string;
  peerId: string;
  kind: MediaKind;
  source: MediaSource;
  rtpParameters: RtpParametersPayload;
  producerPaused: boolean;
}

export interface JoinReply {
  peerId: string;
  roomId: string;
  routerRtpCapabilities: RtpCapabilitiesPayload;
  peers: PeerInfo[];
}

export interface ReplyData {
  join: JoinReply;
  ready: { consumers: number };
  createTransport: TransportInfo;
  connectTransport: Record<string, never>;
  produce: { producerId: string };
  closeProducer: Record<string, never>;
  consume: ConsumerInfo;
  resumeConsumer: Record<string, never>;
  leave: Record<string, never>;
}

export type Ack<N extends RequestName> = (reply: Reply<ReplyData[N]>) => void;

export type ClientToServerEvents = {
  [N in RequestName]: (payload: RequestPayload<N>, ack: Ack<N>) => void;
};

export interface ServerToClientEvents {
  peerJoined: (event: { peer: PeerInfo }) => void;
  peerLeft: (event: { peerId: string }) => void;
  producerAdded: (event: { producer: ProducerInfo }) => void;
  producerClosed: (event: { producerId: string; peerId: string }) => void;
  /** A consumer the server created (paused) for this client; resume it with `resumeConsumer`. */
  consumerAdded: (event: { consumer: ConsumerInfo }) => void;
  consumerClosed: (event: { consumerId: string; producerId: string }) => void;
  /** The room ended under this client (its media worker died, or the server is shutting down). */
  roomClosed: (event: { reason: RoomCloseReason }) => void;
}

export type RoomCloseReason = 'worker-died' | 'shutdown';

export const SIGNALING_PATH = '/socket.io';
