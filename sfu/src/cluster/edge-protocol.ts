/**
 * The contract between a webinar's origin node (which owns the room: the stage publishes there) and
 * an edge node (which serves part of its audience). One Socket.IO connection per edge room, to the
 * origin's `/cluster` namespace, authenticated with a node pass signed with cluster.secret. Media
 * goes over one mediasoup PipeTransport pair per edge room, with SRTP; each speaker's producer is
 * piped once per edge, whatever the number of viewers there.
 *
 * Both sides validate what they receive: the origin the edge's requests, the edge the origin's news.
 */
import { z } from 'zod';
import { MEDIA_SOURCES, chatTextSchema, displayNameSchema, roomIdSchema, rtpParametersSchema } from '../../../shared/index.ts';

export const EDGE_NAMESPACE = '/cluster';

const tupleSchema = z.strictObject({ ip: z.string().min(1).max(64), port: z.number().int().min(1).max(65535) });
const srtpParametersSchema = z.strictObject({
  cryptoSuite: z.enum(['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']),
  keyBase64: z.string().min(16).max(256),
});
const entityId = z.string().min(1).max(64);

/** One speaker's producer as the edge re-creates it: same id, the pipe consumer's RTP parameters. */
export const pipedProducerSchema = z.strictObject({
  id: entityId,
  kind: z.enum(['audio', 'video']),
  source: z.enum(MEDIA_SOURCES),
  rtpParameters: rtpParametersSchema,
  paused: z.boolean(),
});

/** A stage member as the edge shows it to its viewers. */
export const stagePeerSchema = z.strictObject({
  id: entityId,
  displayName: displayNameSchema,
  role: z.enum(['host', 'cohost', 'speaker', 'participant']),
});

export const pipeEndSchema = z.strictObject({ tuple: tupleSchema, srtpParameters: srtpParametersSchema });

/** Edge → origin, once per connection: here is my pipe's end; answer with yours and the stage. */
export const openRequestSchema = pipeEndSchema;

export const openReplySchema = z.strictObject({
  tuple: tupleSchema,
  srtpParameters: srtpParametersSchema,
  stage: z.array(z.strictObject({ peer: stagePeerSchema, producers: z.array(pipedProducerSchema).max(8) })).max(1_000),
});

/** One chat, shared by the origin and its edges: a message posted on any of them, relayed once. */
const chatMessageSchema = z.strictObject({
  id: entityId,
  peerId: entityId,
  displayName: displayNameSchema,
  text: chatTextSchema,
  sentAt: z.number().int().nonnegative(),
});
const audienceSchema = z.strictObject({ count: z.number().int().min(0).max(10_000_000) });

/** Edge → origin, as its viewers chat and come and go: messages posted there, and its viewer count. */
export const edgeReportSchemas = {
  chat: chatMessageSchema,
  audience: audienceSchema,
};

/** Origin → edge, as the stage changes; every chat message; the audience of the whole webinar. */
export const edgeNewsSchemas = {
  chat: chatMessageSchema,
  audience: audienceSchema,
  producer: z.strictObject({ peer: stagePeerSchema, producer: pipedProducerSchema }),
  paused: z.strictObject({ producerId: entityId, paused: z.boolean() }),
  producerClosed: z.strictObject({ producerId: entityId }),
  stageLeft: z.strictObject({ peerId: entityId }),
};

export type PipeEnd = z.infer<typeof pipeEndSchema>;
export type OpenReply = z.infer<typeof openReplySchema>;
export type PipedProducer = z.infer<typeof pipedProducerSchema>;
export type StagePeer = z.infer<typeof stagePeerSchema>;
export type EdgeNews = { [K in keyof typeof edgeNewsSchemas]: z.infer<(typeof edgeNewsSchemas)[K]> };

/** The handshake's auth: a node pass for the origin, and the room the connection is about. */
export const edgeAuthSchema = z.strictObject({ token: z.string().min(1).max(2_048), roomId: roomIdSchema });
