/**
 * Structural schemas for the mediasoup RTP/DTLS objects a client sends. They bound sizes and types at
 * the boundary; mediasoup's own ORTC validation then checks semantics (codec/payload-type agreement).
 * Nested objects strip unknown keys so a newer client cannot smuggle fields into the worker.
 */
import { z } from 'zod';
import { LIMITS } from './limits.ts';

const shortString = z.string().min(1).max(LIMITS.shortString);
const uint32 = z.number().int().min(0).max(0xffffffff);
const payloadType = z.number().int().min(0).max(127);
const codecParameters = z
  .record(z.string().max(LIMITS.shortString), z.union([z.string().max(LIMITS.shortString), z.number()]))
  .refine((record) => Object.keys(record).length <= LIMITS.maxParameterEntries, 'too many codec parameters');

const rtcpFeedback = z.object({ type: shortString, parameter: z.string().max(LIMITS.shortString).optional() });
export const mimeTypeSchema = z.string().regex(/^(audio|video)\/[A-Za-z0-9._-]{1,32}$/, 'mimeType like "video/VP8"');

const rtpCodecParameters = z.object({
  mimeType: mimeTypeSchema,
  payloadType,
  clockRate: z.number().int().positive().max(1_000_000),
  channels: z.number().int().min(1).max(8).optional(),
  parameters: codecParameters.optional(),
  rtcpFeedback: z.array(rtcpFeedback).max(16).optional(),
});

const rtpHeaderExtensionParameters = z.object({
  uri: z.string().min(1).max(256),
  id: z.number().int().min(1).max(255),
  encrypt: z.boolean().optional(),
  parameters: codecParameters.optional(),
});

const rtpEncodingParameters = z.object({
  ssrc: uint32.optional(),
  rid: z.string().regex(/^[A-Za-z0-9_-]{1,16}$/).optional(),
  codecPayloadType: payloadType.optional(),
  rtx: z.object({ ssrc: uint32 }).optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: z.string().max(16).optional(),
  scaleResolutionDownBy: z.number().min(1).max(64).optional(),
  maxBitrate: z.number().int().positive().max(100_000_000).optional(),
  maxFramerate: z.number().positive().max(240).optional(),
  adaptivePtime: z.boolean().optional(),
  priority: z.enum(['very-low', 'low', 'medium', 'high']).optional(),
  networkPriority: z.enum(['very-low', 'low', 'medium', 'high']).optional(),
  active: z.boolean().optional(),
});

export const rtpParametersSchema = z.object({
  mid: z.string().max(32).optional(),
  codecs: z.array(rtpCodecParameters).min(1).max(LIMITS.maxCodecs),
  headerExtensions: z.array(rtpHeaderExtensionParameters).max(LIMITS.maxHeaderExtensions).optional(),
  encodings: z.array(rtpEncodingParameters).min(1).max(LIMITS.maxEncodings).optional(),
  rtcp: z
    .object({ cname: z.string().max(LIMITS.shortString).optional(), reducedSize: z.boolean().optional(), mux: z.boolean().optional() })
    .optional(),
});

const rtpCodecCapability = z.object({
  kind: z.enum(['audio', 'video']),
  mimeType: mimeTypeSchema,
  preferredPayloadType: payloadType.optional(),
  clockRate: z.number().int().positive().max(1_000_000),
  channels: z.number().int().min(1).max(8).optional(),
  parameters: codecParameters.optional(),
  rtcpFeedback: z.array(rtcpFeedback).max(16).optional(),
});

const rtpHeaderExtensionCapability = z.object({
  kind: z.enum(['audio', 'video']),
  uri: z.string().min(1).max(256),
  preferredId: z.number().int().min(1).max(255),
  preferredEncrypt: z.boolean().optional(),
  direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
});

export const rtpCapabilitiesSchema = z.object({
  codecs: z.array(rtpCodecCapability).max(LIMITS.maxCodecs * 2).optional(),
  headerExtensions: z.array(rtpHeaderExtensionCapability).max(LIMITS.maxHeaderExtensions * 2).optional(),
});

export const dtlsParametersSchema = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(
      z.object({
        algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
        value: z.string().regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,63}$/, 'colon-separated hex fingerprint'),
      }),
    )
    .min(1)
    .max(LIMITS.maxFingerprints),
});
