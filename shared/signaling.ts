/**
 * The signaling contract: every client request with its payload schema and reply type, and every
 * server notification. Both sides import these; the server validates each payload against its schema.
 */
import { z } from 'zod';
import type { ErrorCode, Reply } from './errors.ts';
import {
  FILE_CHANNEL_LABEL,
  FILE_SHARING_POLICIES,
  type FileCancelReason,
  type FileDownloadChannel,
  type FileLimits,
  type FileTransferDirection,
  type SharedFileInfo,
  fileIdSchema,
  fileUploadStreamSchema,
  offeredFileNameSchema,
} from './files.ts';
import { LIMITS } from './limits.ts';
import { LOBBY_MAX_WAITING, type LobbyEntry, type MeetingKeys, type ModeratedSource, type RoomSettings } from './moderation.ts';
import { MEDIA_SOURCES, type MediaKind, type MediaSource } from './media.ts';
import { type NetworkSettings, PROBE_PATHS, type ProbePath } from './network.ts';
import { type CompositeStatus, type RecordingSummary, recordingRequestSchemas } from './recording.ts';
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

export const chatTextSchema = z
  .string()
  .trim()
  .min(1, 'empty message')
  .max(LIMITS.chatMessageMaxLength, `at most ${LIMITS.chatMessageMaxLength} characters`);

/** Credentials to take back one's place after a dropped connection, or from a second tab. */
export const resumeSchema = z.strictObject({
  peerId: entityId,
  token: z.string().min(16).max(128),
  /** Server transports this client still holds; the others are closed and must be recreated. */
  transportIds: z.array(entityId).max(4),
});

/** The secret part of a webinar link: it decides whether one joins as host or as audience. */
export const linkKeySchema = z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, 'not a link key');

/** A compact JWS (room token, `access.policy = token`): three base64url parts. */
export const roomTokenSchema = z
  .string()
  .max(LIMITS.tokenMaxLength)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/, 'not a room token');

/** The operator's shared secret for creating rooms (`access.policy = secret`). */
export const creationSecretSchema = z.string().min(1).max(256);

const peerRef = z.strictObject({ peerId: entityId });

export const requestSchemas = {
  /**
   * Also sent by a member on its own connection, with its own `resume`, after `mediaReset`: answered
   * as a resumed join (same identity, nothing seen by others), so the client rebuilds its media.
   */
  join: z.strictObject({
    roomId: roomIdSchema,
    displayName: displayNameSchema,
    resume: resumeSchema.optional(),
    /** The key from a host link (meetings, webinars) or an audience link (webinars). */
    key: linkKeySchema.optional(),
    /** A signed room token, required when the server's policy is `token`. */
    token: roomTokenSchema.optional(),
    /** Cluster mode: the pass another node gave with WRONG_NODE, for this node and room. */
    redirect: roomTokenSchema.optional(),
  }),
  /** Creates a webinar and returns its two links' keys; the caller then joins with the host key. */
  createWebinar: z.strictObject({ secret: creationSecretSchema.optional() }),
  /** Creates a meeting and returns its host link's key; the invite link is the bare room URL. */
  createMeeting: z.strictObject({ secret: creationSecretSchema.optional() }),
  /** Host or co-host: pause someone's microphone; only they can unmute it. */
  muteParticipant: peerRef,
  /** Host or co-host: ask a muted person to unmute (a prompt they accept or ignore). */
  askToUnmute: peerRef,
  /** Host or co-host: turn off someone's camera (paused) or screen share (stopped). */
  stopParticipantVideo: z.strictObject({ peerId: entityId, source: z.enum(['camera', 'screen']) }),
  /** Host or co-host: mute every microphone but the hosts'. */
  muteEveryone: z.strictObject({}),
  /** Host or co-host: remove someone; they cannot come back with the same identity. */
  removeParticipant: peerRef,
  /** Host or co-host: lock the room, turn the lobby on or off, or say who may share files. */
  setRoomSettings: z.strictObject({
    locked: z.boolean().optional(),
    lobby: z.boolean().optional(),
    fileSharing: z.enum(FILE_SHARING_POLICIES).optional(),
  }),
  /** Host only: make someone a co-host, or a participant again. */
  setParticipantRole: z.strictObject({ peerId: entityId, role: z.enum(['cohost', 'participant']) }),
  /** Host only: pass host on; the sender becomes a co-host. */
  transferHost: peerRef,
  /** Host or co-host: admit or deny people waiting in the lobby ('all': everyone waiting now). */
  answerLobby: z.strictObject({
    entryIds: z.union([z.array(entityId).min(1).max(LOBBY_MAX_WAITING), z.literal('all')]),
    admit: z.boolean(),
  }),
  /** Host or co-host: end the meeting for everyone. */
  endMeeting: z.strictObject({}),
  /** Hosts and co-hosts: record every track of the room on the server (a file per track). */
  startRecording: z.strictObject({}),
  stopRecording: z.strictObject({}),
  ...recordingRequestSchemas,
  /**
   * Before joining: whether the room is being recorded, so the pre-join screen can say so. Answers
   * only for a room live on this node (null otherwise), and nothing else about it.
   */
  roomStatus: z.strictObject({ roomId: roomIdSchema }),
  /** Host: invite an audience member (usually one with a raised hand) onto the stage. */
  inviteToStage: z.strictObject({ peerId: z.string().min(1).max(LIMITS.idMaxLength) }),
  /** Audience member: accept or decline the host's invitation. */
  answerStageInvite: z.strictObject({ accept: z.boolean() }),
  /** Host: send a speaker back to the audience (their producers close). */
  moveToAudience: z.strictObject({ peerId: z.string().min(1).max(LIMITS.idMaxLength) }),
  /** Sent once the client has loaded its device; from then on the server creates consumers for it. */
  ready: z.strictObject({ rtpCapabilities: rtpCapabilitiesSchema }),
  createTransport: z.strictObject({ direction: z.enum(['send', 'recv']) }),
  connectTransport: z.strictObject({ transportId: entityId, dtlsParameters: dtlsParametersSchema }),
  produce: z.strictObject({
    transportId: entityId,
    kind: z.enum(['audio', 'video']),
    source: z.enum(MEDIA_SOURCES),
    rtpParameters: rtpParametersSchema,
    /** Starts paused (a muted microphone or a camera that is off, published again after a media reset). */
    paused: z.boolean().optional(),
  }),
  closeProducer: z.strictObject({ producerId: entityId }),
  /** Subscribe again to a producer (the server subscribes automatically on arrival). */
  consume: z.strictObject({ producerId: entityId }),
  resumeConsumer: z.strictObject({ consumerId: entityId }),
  leave: z.strictObject({}),
  /** Mute/unmute (mic) or camera off/on: pauses the producer on the server, seen by everyone. */
  setProducerPaused: z.strictObject({ producerId: entityId, paused: z.boolean() }),
  setHandRaised: z.strictObject({ raised: z.boolean() }),
  sendChat: z.strictObject({ text: chatTextSchema }),
  /**
   * Files (shared/files.ts). The sender's upload channel: the server makes the DataProducer for the
   * browser's data channel on the sender's own send transport (sent on mediasoup-client's `producedata`).
   */
  openFileUpload: z.strictObject({
    transportId: entityId,
    sctpStreamParameters: fileUploadStreamSchema,
    label: z.literal(FILE_CHANNEL_LABEL),
    protocol: z.string().max(LIMITS.shortString),
  }),
  /** The receiver's download channel, on its receive transport: one per client, for every file. */
  openFileDownload: z.strictObject({}),
  /** Shares a file: the reply carries its id, to name in every chunk sent on the upload channel. */
  offerFile: z.strictObject({ name: offeredFileNameSchema, size: z.number().int().min(1, 'the file is empty').max(Number.MAX_SAFE_INTEGER) }),
  /** The sender stops its upload, or takes its file back; a host may remove anyone's. */
  cancelFile: z.strictObject({ fileId: fileIdSchema }),
  /**
   * Sends a file on this client's download channel, from `offset` (default 0): to everyone present
   * as it is offered, to late joiners when they ask, and again from where a broken download stopped.
   */
  fetchFile: z.strictObject({ fileId: fileIdSchema, offset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() }),
  /** The receiver stops its own download; nobody else is affected. */
  stopFileDownload: z.strictObject({ fileId: fileIdSchema }),
  /** Fresh TURN credentials before the current ones expire (members of a room only). */
  refreshIceServers: z.strictObject({}),
  /**
   * Pre-join: probe transports on the server, one per path (UDP only, TCP only, through TURN), so the
   * client can tell the person what their network allows. Replaces this connection's previous probe.
   * The relay path (short-lived TURN credentials) is offered only to someone the access policy would
   * let into `roomId`: on a token server, with a valid room token for it.
   */
  checkConnectivity: z.strictObject({ roomId: roomIdSchema.optional(), token: roomTokenSchema.optional() }),
  /** Pre-join: DTLS parameters for one probe transport, sent when the browser starts connecting it. */
  connectProbe: z.strictObject({ path: z.enum(PROBE_PATHS), dtlsParameters: dtlsParametersSchema }),
  /** New ICE credentials for a transport whose connectivity broke (network change, blip). */
  restartIce: z.strictObject({ transportId: entityId }),
  /**
   * What this client shows of each video it receives: hidden (paused: no bandwidth) or the simulcast
   * layer its tile size needs. Sent in batches when tiles scroll, resize or change page.
   */
  updateConsumers: z.strictObject({
    updates: z
      .array(
        z.strictObject({
          consumerId: entityId,
          paused: z.boolean(),
          spatialLayer: z.number().int().min(0).max(LIMITS.maxEncodings - 1).optional(),
          temporalLayer: z.number().int().min(0).max(3).optional(),
          /** Higher gets bandwidth first when the downlink is short (1-255). */
          priority: z.number().int().min(1).max(255).optional(),
        }),
      )
      .min(1)
      .max(LIMITS.maxConsumerUpdates),
  }),
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

/**
 * In a meeting the host (and co-hosts) run it and everyone else is a participant. In a webinar the
 * host manages the stage, speakers publish, and viewers only receive: they never get a send transport.
 */
export type Role = 'participant' | 'host' | 'cohost' | 'speaker' | 'viewer';
export type RoomKind = 'meeting' | 'webinar';

export interface PeerInfo {
  id: string;
  displayName: string;
  role: Role;
  producers: ProducerInfo[];
  /** Epoch ms when the hand went up; null when it is down. */
  handRaisedAt: number | null;
}

/** A recording under way: who started it and when (epoch ms). */
export interface RecordingState {
  startedAt: number;
  byName: string;
}

export interface ChatMessage {
  id: string;
  peerId: string;
  displayName: string;
  text: string;
  sentAt: number;
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

export interface SctpParameters {
  port: number;
  OS: number;
  MIS: number;
  maxMessageSize: number;
}

export interface TransportInfo {
  id: string;
  direction: 'send' | 'recv';
  /** Data channels: probe transports connect by opening one; room transports carry files. */
  sctpParameters?: SctpParameters;
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

/** Media settings the server's operator chose; the client encodes with them. */
export interface ClientSettings {
  /** Camera simulcast layers, lowest first. */
  simulcast: Array<{ scaleResolutionDownBy: number; maxBitrate: number }>;
  screenMaxBitrate: number;
  opus: { dtx: boolean; fec: boolean };
  /** Most video tiles on one grid page (desktop, phone). */
  gridPageSize: { desktop: number; phone: number };
  files: FileLimits;
}

export interface WebinarKeys {
  roomId: string;
  hostKey: string;
  audienceKey: string;
}

export interface JoinReply {
  peerId: string;
  kind: RoomKind;
  role: Role;
  /** Hosts only, until the server restarts (it keeps only hashes): both links' keys, to hand out the audience link. */
  webinarKeys?: WebinarKeys;
  /** Meeting hosts and co-hosts, until the server restarts (it keeps only a hash): the host link's key. */
  meetingKeys?: MeetingKeys;
  /** Lock and lobby, as hosts last set them. */
  roomSettings: RoomSettings;
  /** Hosts and co-hosts only: who is waiting in the lobby now. */
  lobby?: LobbyEntry[];
  /** Viewers in the room; viewers are not listed individually to other viewers. */
  audienceCount: number;
  settings: ClientSettings;
  roomId: string;
  /** Keep it private: with the peer id it takes this place back within the grace period. */
  resumeToken: string;
  /** True when this join took back an existing place (same identity, no leave/join seen by others). */
  resumed: boolean;
  self: PeerInfo;
  routerRtpCapabilities: RtpCapabilitiesPayload;
  peers: PeerInfo[];
  /** Transports kept for this peer (resumed joins only). */
  transportIds: string[];
  /** Consumers this peer already has (resumed joins only); the client reconciles against them. */
  consumers: ConsumerInfo[];
  chat: ChatMessage[];
  /** Files shared in this room and still held by the server, in the order they were shared. */
  files: SharedFileInfo[];
  activeSpeakerId: string | null;
  speakingPeerIds: string[];
  /** The room is being recorded: shown to everyone in it. */
  recording: RecordingState | null;
  /** ICE servers and policy for this client's transports; fresh credentials on every (re)join. */
  network: NetworkSettings;
  /**
   * Cluster mode: the live nodes' base URLs, this one first. When this node stops answering, the
   * client rejoins through the others; whichever takes the room over sends it on.
   */
  nodes?: string[];
}

/** The server's side of a pre-join check: one transport per path it can offer. */
export interface ConnectivityProbe {
  routerRtpCapabilities: RtpCapabilitiesPayload;
  /** Absent where the server does not offer that path (TCP off; no TURN configured). */
  transports: Partial<Record<ProbePath, TransportInfo>>;
  /** Short-lived TURN credentials for the relay probe; empty without TURN. */
  iceServers: NetworkSettings['iceServers'];
  /** The operator sends every client's media through TURN (turn.relayOnly). */
  relayOnly: boolean;
  /** Signaling round trip is measured by the client; this says how long the probe stays open. */
  expiresInMs: number;
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
  setProducerPaused: Record<string, never>;
  setHandRaised: Record<string, never>;
  sendChat: ChatMessage;
  restartIce: { iceParameters: IceParameters };
  refreshIceServers: NetworkSettings;
  checkConnectivity: ConnectivityProbe;
  connectProbe: Record<string, never>;
  updateConsumers: Record<string, never>;
  createWebinar: WebinarKeys;
  createMeeting: MeetingKeys;
  muteParticipant: Record<string, never>;
  askToUnmute: Record<string, never>;
  stopParticipantVideo: Record<string, never>;
  /** How many microphones were muted. */
  muteEveryone: { muted: number };
  removeParticipant: Record<string, never>;
  setRoomSettings: RoomSettings;
  setParticipantRole: Record<string, never>;
  transferHost: Record<string, never>;
  /** How many lobby entries were answered. */
  answerLobby: { answered: number };
  endMeeting: Record<string, never>;
  startRecording: RecordingState;
  stopRecording: { tracks: number };
  listRecordings: { recordings: RecordingSummary[] };
  renderRecording: CompositeStatus;
  deleteRecording: Record<string, never>;
  roomStatus: { recording: RecordingState | null };
  inviteToStage: Record<string, never>;
  answerStageInvite: Record<string, never>;
  moveToAudience: Record<string, never>;
  openFileUpload: { dataProducerId: string };
  openFileDownload: FileDownloadChannel;
  offerFile: { file: SharedFileInfo };
  cancelFile: Record<string, never>;
  fetchFile: Record<string, never>;
  stopFileDownload: Record<string, never>;
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
  /**
   * The room ended under this client (its media worker died, or the server is shutting down). With
   * `shutdown`, `rejoinWithinMs` is how long the client should keep trying to rejoin the same room
   * while the server restarts.
   */
  roomClosed: (event: { reason: RoomCloseReason; byName?: string; rejoinWithinMs?: number }) => void;
  producerPaused: (event: { peerId: string; producerId: string; source: MediaSource; paused: boolean }) => void;
  peerUpdated: (event: { peerId: string; handRaisedAt: number | null }) => void;
  chatMessage: (event: ChatMessage) => void;
  /** Who holds the stage, decided on the server with a minimum hold so the stage does not flicker. */
  activeSpeaker: (event: { peerId: string | null }) => void;
  /** Everyone whose microphone is above the speaking threshold right now. */
  speaking: (event: { peerIds: string[] }) => void;
  /** mediasoup's 0-10 quality scores: the sender's uplink (producerScore) and this receiver's path (score). */
  consumerScore: (event: { consumerId: string; score: number; producerScore: number }) => void;
  /**
   * Dynacast: the highest simulcast layer anyone receives of this producer; -1 when nobody watches.
   * The publisher stops encoding the layers above it and resumes them when asked again.
   */
  producerLayers: (event: { producerId: string; maxSpatialLayer: number }) => void;
  /** How many viewers are watching; sent at most about once a second, instead of one event per viewer. */
  audienceCount: (event: { count: number }) => void;
  /** The host invites this viewer onto the stage. */
  stageInvite: (event: { byPeerId: string; byName: string }) => void;
  /** To the host who invited: the viewer's answer. */
  stageInviteAnswered: (event: { peerId: string; accepted: boolean }) => void;
  /** Someone's role changed (including this client's own). */
  roleChanged: (event: { peerId: string; role: Role }) => void;
  /** Another tab or device took over this identity; this connection is no longer in the room. */
  sessionReplaced: (event: Record<string, never>) => void;
  /** Lock or lobby changed (to everyone in the room). */
  roomSettings: (event: RoomSettings & { byName: string }) => void;
  /** To the person: a host switched off their microphone, camera or screen share. */
  mutedByHost: (event: { source: ModeratedSource; byName: string }) => void;
  /** To the person: a host asks them to unmute. */
  unmuteRequested: (event: { byName: string }) => void;
  /** To hosts and co-hosts: who waits in the lobby now (sent on every change). */
  lobbyChanged: (event: { waiting: LobbyEntry[] }) => void;
  /** To a joiner: the lobby is on; their join completes when a host admits them, or fails with LOBBY_DENIED. */
  lobbyWaiting: (event: Record<string, never>) => void;
  /** To everyone in the room: recording started (with who and when) or stopped (null). */
  recordingChanged: (event: { recording: RecordingState | null }) => void;
  /**
   * The media worker this client's transports lived on died: the server closed them with their
   * producers and consumers. The client stays in the room and rebuilds its media by sending `join`
   * with its own `resume` credentials on this same connection.
   */
  mediaReset: (event: Record<string, never>) => void;
  /** Someone else shared a file (the sender has it in its `offerFile` reply). */
  fileOffered: (event: { file: SharedFileInfo }) => void;
  /** To the sender: bytes of its upload the server has stored so far (a few times a second at most). */
  fileProgress: (event: { fileId: string; stored: number }) => void;
  /** The upload is complete and stored; receivers check what they got against this hash. */
  fileAvailable: (event: { fileId: string; sha256: string }) => void;
  /** The file left the room (cancelled, removed, its sender left mid-upload, or its upload failed). */
  fileCancelled: (event: { fileId: string; reason: FileCancelReason }) => void;
  /** This client's own upload or download of the file failed; the stable code says why. */
  fileFailed: (event: { fileId: string; direction: FileTransferDirection; code: ErrorCode; message: string }) => void;
}

/**
 * Why the room ended for this client: its media worker died, the server is shutting down, a host
 * removed this person, or a host ended the meeting for everyone.
 */
/** `moved`: cluster mode; another node serves the room now, and the client joins it there. */
export type RoomCloseReason = 'worker-died' | 'shutdown' | 'removed' | 'ended' | 'moved';

export const SIGNALING_PATH = '/socket.io';
