/** The server's configuration, with the embedded defaults that make `npm start` work on localhost. */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { FILE_SHARING_POLICIES } from '../shared/files.ts';
import { ROOM_POLICIES } from '../shared/moderation.ts';

const port = z.coerce.number().int().min(0).max(65535);
const bitrate = z.coerce.number().int().min(10_000).max(100_000_000);
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const boolFromEnv = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);
/** A STUN/TURN URL as RTCIceServer takes it (RFC 7064/7065), with an optional `?transport=`. */
const iceUrl = z
  .string()
  .regex(/^(stun|turns?):[A-Za-z0-9.:[\]-]+(\?transport=(udp|tcp))?$/, 'a stun:, turn: or turns: URL like turn:host:3478?transport=udp');
/** A list given as an array, or as a comma-separated string (environment variables). */
const commaList = z.union([
  z.array(z.string()),
  z.string().transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
]);

export const VIDEO_CODECS = ['VP8', 'VP9', 'H264'] as const;

/** Where the room store lives unless store.dataDir says otherwise (XDG base directory spec). */
const DEFAULT_DATA_DIR = path.join(process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'roundtable');

/** A web origin (`https://meet.example.org`, port only when not the default), normalized. */
const webOrigin = z.string().transform((value, ctx) => {
  try {
    const url = new URL(value);
    const bare = !url.username && !url.password && url.pathname === '/' && !url.search && !url.hash;
    if ((url.protocol === 'http:' || url.protocol === 'https:') && bare) return url.origin;
  } catch {
    // reported below
  }
  ctx.addIssue({ code: 'custom', message: 'an origin like https://meet.example.org (scheme, host and port only)' });
  return z.NEVER;
});
/** Reverse proxies trusted to append to X-Forwarded-For: true is one, false none. */
const trustedProxies = z.union(
  [
    z.boolean().transform((v) => (v ? 1 : 0)),
    z.enum(['true', 'false']).transform((v) => (v === 'true' ? 1 : 0)),
    z.coerce.number().int().min(0).max(10),
  ],
  { error: 'true, false, or the number of proxies in front of the server (0-10)' },
);
const ADMIN_PORT = 9090;
/** The admin listener's port: as set, else 9090, else (main port 0: tests, throwaway servers) a free port too. */
function adminPort(config: { http: { port: number }; admin: { port?: number | undefined } }): number {
  return config.admin.port ?? (config.http.port === 0 ? 0 : ADMIN_PORT);
}

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
      /**
       * Reverse proxies in front of the server. 0: X-Forwarded-For is ignored and the per-address
       * limits use the socket's address. n: they use the n-th X-Forwarded-For entry from the right.
       */
      trustProxy: trustedProxies.default(0),
    }).prefault({}),
    rtc: z.object({
      /**
       * `single`: each worker listens on one UDP and one TCP port (mediasoup WebRtcServer), worker i on
       * basePort + i, so a firewall opens a handful of ports. `range`: every transport takes its own
       * port from minPort..maxPort (the older mediasoup way).
       */
      portMode: z.enum(['single', 'range']).default('single'),
      /** Single-port mode: first worker's port (UDP and TCP). 0 lets the system pick free ports (tests). */
      basePort: port.default(40000),
      /** IP the media sockets bind to; the wildcard takes media on every interface. */
      listenIp: z.ipv4().or(z.ipv6()).default('0.0.0.0'),
      /**
       * Address put in ICE candidates (public IP or hostname behind NAT). Unset with a wildcard
       * listenIp: the machine's first non-internal IPv4 address, detected at startup.
       */
      announcedIp: z.string().min(1).max(253).regex(/^[A-Za-z0-9.:-]+$/, 'an IP address or host name').optional(),
      minPort: port.default(40000),
      maxPort: port.default(49999),
      enableUdp: boolFromEnv.default(true),
      /** ICE over TCP: browsers whose UDP is blocked still reach the SFU. */
      enableTcp: boolFromEnv.default(true),
      preferUdp: boolFromEnv.default(true),
    }).prefault({}),
    turn: z.object({
      /**
       * TURN (and STUN) URLs handed to clients, e.g. `turn:turn.example.org:3478?transport=udp`,
       * `turn:turn.example.org:3478?transport=tcp`, `turns:turn.example.org:443?transport=tcp`.
       */
      urls: commaList.pipe(z.array(iceUrl).max(8)).default([]),
      /** coturn's `static-auth-secret` (TURN REST scheme, `use-auth-secret`). */
      secret: z.string().min(16, 'at least 16 characters').max(256).optional(),
      /** How long the credentials handed to a client stay valid. */
      ttlSeconds: z.coerce.number().int().min(60).max(7 * 86_400).default(86_400),
      /** Every client sends media only through TURN (also per client: `?relay=1`). */
      relayOnly: boolFromEnv.default(false),
    }).prefault({}),
    /** Who may create and enter rooms (docs/access.md). */
    access: z.object({
      /**
       * `open`: anyone creates rooms, and joining an unknown meeting id opens it (a local install).
       * `secret`: creating a meeting or webinar needs access.creationSecret; unknown ids are refused.
       * `token`: rooms are entered with a JWT minted by the operator's application (access.tokenSecret
       * or access.tokenPublicKey); the token names the room, the name, the role and the expiry.
       */
      policy: z.enum(ROOM_POLICIES).default('open'),
      creationSecret: z.string().min(16, 'at least 16 characters').max(256).optional(),
      /** HMAC key for HS256 room tokens. */
      tokenSecret: z.string().min(32, 'at least 32 characters (256 bits) for HS256').max(1024).optional(),
      /** PEM public key (SPKI) for RS256/ES256/EdDSA room tokens, or a path to a file holding it. */
      tokenPublicKey: z.string().min(1).max(16_384).optional(),
      /** When set, tokens must carry this `iss` / `aud`. */
      tokenIssuer: z.string().min(1).max(256).optional(),
      tokenAudience: z.string().min(1).max(256).optional(),
      /** Clock skew tolerated on `exp` and `nbf`. */
      tokenClockToleranceSeconds: z.coerce.number().int().min(0).max(600).default(30),
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
      videoCodecs: commaList.pipe(z.array(z.enum(VIDEO_CODECS)).min(1)).default(['VP8', 'VP9', 'H264']),
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
      /** Rooms open at once on this server; a join that would open one more gets SERVER_FULL. */
      maxRooms: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
      /** A stored room (webinar links) nobody has joined for this long is deleted. Fractions allowed. */
      idleExpiryHours: z.coerce.number().positive().max(10 * 365 * 24).default(720),
    }).prefault({}),
    /** Server-side recording: a file per track, written by ffmpeg without re-encoding. */
    recording: z.object({
      /** Created on first use; one folder per room and recording inside. */
      dir: z.string().min(1).default(path.join(DEFAULT_DATA_DIR, 'recordings')),
      /** Starting is refused (RECORDING_NO_SPACE) below this much free space on that disk. */
      minFreeMb: z.coerce.number().int().min(0).max(10_000_000).default(1_024),
      /** The ffmpeg binary. */
      ffmpeg: z.string().min(1).default('ffmpeg'),
      /** The composite rendered when a recording stops ('none': only on a host's request). */
      composite: z.enum(['grid', 'speaker', 'none']).default('grid'),
      /** Composite renders at once (each uses every core it gets, at a lower priority than meetings). */
      compositeJobs: z.coerce.number().int().min(1).max(16).default(1),
      /** Recordings older than this are deleted (checked hourly); 0 keeps them until a host deletes them. */
      retentionDays: z.coerce.number().min(0).max(36_500).default(30),
      /** Signs download links; without it links are signed with a per-process key (they last an hour). */
      linkSecret: z.string().min(32, 'must be at least 32 characters').optional(),
    }).prefault({}),
    /** Files shared in meetings (README "File sharing"): kept by the server while the room is open. */
    files: z.object({
      enabled: boolFromEnv.default(true),
      /** Largest file one person may share. */
      maxFileBytes: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(100 * 1024 * 1024),
      /** What one room's files may take on disk together (uploads count at their declared size). */
      maxRoomBytes: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(1024 * 1024 * 1024),
      /** Files one room holds at once. */
      maxFilesPerRoom: z.coerce.number().int().min(1).max(10_000).default(100),
      /** Files one participant may offer a minute (a burst of this many, then refilled evenly). */
      offersPerMinute: z.coerce.number().int().min(1).max(10_000).default(10),
      /** Who may share in a meeting until a host changes it (webinars: only the stage ever shares). */
      whoMayShare: z.enum(FILE_SHARING_POLICIES).default('everyone'),
      /** An upload that receives nothing for this long fails, and its space is freed. */
      uploadIdleTimeoutMs: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
      /** Where each room's temporary folder is made; unset: the system's temp directory. */
      dir: z.string().min(1).optional(),
    }).prefault({}),
    /** Durable state: the SQLite room store. */
    store: z.object({
      /** Created on first start. Relative paths are relative to the working directory. */
      dataDir: z.string().min(1).default(DEFAULT_DATA_DIR),
    }).prefault({}),
    /** SIGTERM/SIGINT: how long the server may take to close, and how long clients keep rejoining. */
    shutdown: z.object({
      /** Past this the process exits non-zero, naming what was still open. */
      deadlineMs: z.coerce.number().int().min(100).max(600_000).default(10_000),
      /** Sent with the restart notice: clients keep trying to rejoin the same room for this long. */
      rejoinWindowMs: z.coerce.number().int().min(0).max(3_600_000).default(120_000),
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
      /** Other sites' pages allowed to open signaling (the server's own origin always is). */
      allowedOrigins: commaList.pipe(z.array(webOrigin).max(64)).default([]),
    }).prefault({}),
    /**
     * Per client address: an IPv4 address or an IPv6 /64, the socket's unless http.trustProxy. A
     * whole office behind one NAT shares them, hence the generous defaults.
     */
    limits: z.object({
      /** Signaling connections open at once (a browser tab holds one, briefly two). */
      connectionsPerAddress: z.coerce.number().int().min(1).max(100_000).default(200),
      /** Joins a minute (bursts up to this, then refilled evenly). */
      joinsPerMinute: z.coerce.number().int().min(1).max(100_000).default(300),
      /** Joins that open a room, and new webinars, a minute. */
      roomCreationsPerMinute: z.coerce.number().int().min(1).max(100_000).default(60),
    }).prefault({}),
    /** A second HTTP listener for operators: /metrics and the detailed /healthz. Keep it private. */
    admin: z.object({
      host: z.string().min(1).default('127.0.0.1'),
      /** 0 picks a free port. Unset: 9090, or a free port when http.port is 0. */
      port: port.optional(),
      /** When set, /metrics is also served on the main port to `Authorization: Bearer <token>`. */
      metricsToken: z.string().min(16, 'at least 16 characters').max(256).regex(/^[\x21-\x7e]+$/, 'printable ASCII, no spaces').optional(),
    }).prefault({}),
    /**
     * Cluster mode: several nodes share one Valkey/Redis. Without `redisUrl` the server is one process
     * and none of this is used.
     */
    cluster: z.object({
      /** `redis://host:port` (or `rediss://`) of the shared store; unset = single node. */
      redisUrl: z.string().regex(/^rediss?:\/\/\S+$/, 'a URL like redis://127.0.0.1:6379').optional(),
      /** This node's name in the cluster; unset: host name and port. */
      nodeId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash, underscore; at most 64').optional(),
      /** Where browsers reach this node (its web app and signaling), e.g. https://node-b.example.org. */
      publicUrl: webOrigin.optional(),
      /** Signs redirect tokens and authenticates nodes to each other; the same on every node. */
      secret: z.string().min(32, 'at least 32 characters').max(512).optional(),
      /** Key prefix, so that clusters (or tests) can share a store. */
      keyPrefix: z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/).default('roundtable'),
      /** A room whose owner stops renewing is free after this long; also a node record's lifetime. */
      leaseMs: z.coerce.number().int().min(1_000).max(120_000).default(10_000),
      /** How long a node waits for the store at startup before giving up. */
      connectTimeoutMs: z.coerce.number().int().min(100).max(120_000).default(5_000),
    }).prefault({}),
    logLevel: logLevel.default('info'),
  })
  .superRefine((config, ctx) => {
    if (config.rtc.minPort > config.rtc.maxPort) {
      ctx.addIssue({ code: 'custom', path: ['rtc', 'minPort'], message: 'must not exceed rtc.maxPort' });
    }
    if (config.rtc.portMode === 'single' && config.rtc.basePort !== 0 && config.rtc.basePort + config.workers.count - 1 > 65535) {
      ctx.addIssue({ code: 'custom', path: ['rtc', 'basePort'], message: `needs ${config.workers.count} ports (one per worker) below 65536` });
    }
    if (!config.rtc.enableUdp && !config.rtc.enableTcp) {
      ctx.addIssue({ code: 'custom', path: ['rtc', 'enableUdp'], message: 'UDP and TCP cannot both be off' });
    }
    const relays = config.turn.urls.filter((url) => url.startsWith('turn'));
    if (relays.length > 0 && !config.turn.secret) {
      ctx.addIssue({ code: 'custom', path: ['turn', 'secret'], message: 'is required with turn: URLs (the shared secret of coturn\'s use-auth-secret)' });
    }
    if (config.turn.secret && relays.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['turn', 'urls'], message: 'needs at least one turn: or turns: URL when turn.secret is set' });
    }
    if (config.turn.relayOnly && relays.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['turn', 'relayOnly'], message: 'needs turn.urls: relay-only clients can reach nothing without TURN' });
    }
    const { access } = config;
    if (access.policy === 'secret' && !access.creationSecret) {
      ctx.addIssue({ code: 'custom', path: ['access', 'creationSecret'], message: 'is required when access.policy is secret' });
    }
    if (access.policy === 'token' && !access.tokenSecret && !access.tokenPublicKey) {
      ctx.addIssue({ code: 'custom', path: ['access', 'tokenSecret'], message: 'access.tokenSecret or access.tokenPublicKey is required when access.policy is token' });
    }
    if (config.cluster.redisUrl && !config.cluster.secret) {
      ctx.addIssue({ code: 'custom', path: ['cluster', 'secret'], message: 'is required with cluster.redisUrl (the same on every node)' });
    }
    if (config.cluster.redisUrl && !config.cluster.publicUrl) {
      ctx.addIssue({ code: 'custom', path: ['cluster', 'publicUrl'], message: 'is required with cluster.redisUrl: where browsers reach this node' });
    }
    if (config.files.maxFileBytes > config.files.maxRoomBytes) {
      ctx.addIssue({ code: 'custom', path: ['files', 'maxFileBytes'], message: `must not exceed files.maxRoomBytes (${config.files.maxRoomBytes})` });
    }
    if (Boolean(config.http.tlsCert) !== Boolean(config.http.tlsKey)) {
      ctx.addIssue({ code: 'custom', path: ['http', config.http.tlsCert ? 'tlsKey' : 'tlsCert'], message: 'tlsCert and tlsKey go together' });
    }
  })
  .superRefine((config, ctx) => {
    if (adminPort(config) !== 0 && adminPort(config) === config.http.port) {
      ctx.addIssue({ code: 'custom', path: ['admin', 'port'], message: `must differ from http.port (${config.http.port})` });
    }
  })
  .transform((config) => ({ ...config, admin: { ...config.admin, port: adminPort(config) } }));

export type Config = z.infer<typeof configSchema>;
