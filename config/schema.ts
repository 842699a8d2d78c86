/** The server's configuration, with the embedded defaults that make `npm start` work on localhost. */
import os from 'node:os';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const bitrate = z.coerce.number().int().min(10_000).max(100_000_000);
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const boolFromEnv = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);
const codecList = z.union([
  z.array(z.string()),
  z.string().transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
]);

export const VIDEO_CODECS = ['VP8', 'VP9', 'H264'] as const;

export const configSchema = z
  .object({
    http: z.object({
      host: z.string().min(1).default('127.0.0.1'),
      port: port.default(3000),
      /** PEM files; both set → HTTPS (browsers only allow cameras on https:// or localhost). */
      tlsCert: z.string().min(1).optional(),
      tlsKey: z.string().min(1).optional(),
      /** Directory of the built client; empty string disables serving it. */
      staticDir: z.string().default('client/dist'),
    }).prefault({}),
    rtc: z.object({
      /** IP the media sockets bind to. 0.0.0.0 needs announcedIp. */
      listenIp: z.ipv4().or(z.ipv6()).default('127.0.0.1'),
      /** Public IP (or hostname) put in ICE candidates when the server is behind NAT. */
      announcedIp: z.string().min(1).optional(),
      minPort: port.default(40000),
      maxPort: port.default(49999),
      enableTcp: boolFromEnv.default(true),
      preferUdp: boolFromEnv.default(true),
    }).prefault({}),
    workers: z.object({
      count: z.coerce.number().int().min(1).max(256).default(Math.max(1, os.availableParallelism())),
      /**
       * Consumers a worker takes for one room before the room grows onto another worker
       * (pipeToRouter). mediasoup's guidance is ~500 consumers per core.
       */
      consumerBudget: z.coerce.number().int().min(1).max(100_000).default(500),
      logLevel: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
    }).prefault({}),
    media: z.object({
      videoCodecs: codecList.pipe(z.array(z.enum(VIDEO_CODECS)).min(1)).default(['VP8', 'VP9', 'H264']),
      /** Cap on what one peer may send to the server, all its producers together (bps). */
      maxIncomingBitrate: bitrate.default(3_000_000),
      /** Bandwidth estimate a receive transport starts from before probing (bps). */
      initialOutgoingBitrate: bitrate.default(1_000_000),
      /** Upper bound of what the server sends to one peer (bps). */
      maxOutgoingBitrate: bitrate.default(6_000_000),
      /** Camera simulcast layers, lowest first: size divisor and bitrate cap of each. */
      simulcast: z
        .array(z.object({ scaleResolutionDownBy: z.number().min(1).max(16), maxBitrate: bitrate }))
        .min(1)
        .max(3)
        .default([
          { scaleResolutionDownBy: 4, maxBitrate: 150_000 },
          { scaleResolutionDownBy: 2, maxBitrate: 500_000 },
          { scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
        ]),
      screenMaxBitrate: bitrate.default(2_500_000),
      /**
       * Keyframe requests to a publisher are gathered over this window: a storm of new viewers makes a
       * camera send one keyframe, not one per viewer.
       */
      keyFrameRequestDelayMs: z.coerce.number().int().min(0).max(5_000).default(500),
      /** Opus discontinuous transmission (silence costs ~nothing) and in-band forward error correction. */
      opusDtx: boolFromEnv.default(true),
      opusFec: boolFromEnv.default(true),
    }).prefault({}),
    client: z.object({
      /** Most video tiles on one grid page; people beyond it cost no video bandwidth. */
      gridPageSize: z.coerce.number().int().min(1).max(100).default(25),
      gridPageSizePhone: z.coerce.number().int().min(1).max(100).default(9),
    }).prefault({}),
    rooms: z.object({
      maxPeersPerRoom: z.coerce.number().int().min(1).max(10_000).default(100),
      /** Audience size of one webinar (viewers do not count against maxPeersPerRoom). */
      maxViewersPerWebinar: z.coerce.number().int().min(1).max(100_000).default(5_000),
      /** How long a dropped participant keeps their place, unseen by others, before being removed. */
      reconnectGraceMs: z.coerce.number().int().min(0).max(600_000).default(30_000),
      /** Chat messages kept per room and replayed to late joiners. */
      chatHistory: z.coerce.number().int().min(0).max(10_000).default(200),
    }).prefault({}),
    speakers: z.object({
      /** Minimum time a speaker keeps the stage before someone else may take it. */
      holdMs: z.coerce.number().int().min(0).max(60_000).default(2_000),
      /** Audio level (dBov, -127..0) above which a microphone counts as speaking. */
      speakingThresholdDb: z.coerce.number().min(-127).max(0).default(-50),
      /** How often audio levels are sampled for speaking indicators. */
      levelIntervalMs: z.coerce.number().int().min(100).max(5_000).default(400),
    }).prefault({}),
    signaling: z.object({
      /** Requests each connection may make per second, and the burst above that it may spend. */
      requestsPerSecond: z.coerce.number().positive().max(10_000).default(30),
      requestBurst: z.coerce.number().int().positive().max(10_000).default(120),
    }).prefault({}),
    logLevel: logLevel.default('info'),
  })
  .superRefine((config, ctx) => {
    if (config.rtc.minPort > config.rtc.maxPort) {
      ctx.addIssue({ code: 'custom', path: ['rtc', 'minPort'], message: 'must not exceed rtc.maxPort' });
    }
    if (['0.0.0.0', '::'].includes(config.rtc.listenIp) && !config.rtc.announcedIp) {
      ctx.addIssue({ code: 'custom', path: ['rtc', 'announcedIp'], message: 'is required when rtc.listenIp is a wildcard address' });
    }
    if (Boolean(config.http.tlsCert) !== Boolean(config.http.tlsKey)) {
      ctx.addIssue({ code: 'custom', path: ['http', config.http.tlsCert ? 'tlsKey' : 'tlsCert'], message: 'tlsCert and tlsKey go together' });
    }
  });

export type Config = z.infer<typeof configSchema>;
