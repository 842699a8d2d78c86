/** Bounds shared by the schemas (client-side checks) and the server (enforcement). */
export const LIMITS = {
  roomIdMinLength: 3,
  roomIdMaxLength: 64,
  displayNameMaxLength: 48,
  /** Serialised size of one signaling payload; RTP parameters of 3-layer simulcast are ~3 KB. */
  payloadMaxBytes: 32 * 1024,
  maxCodecs: 32,
  maxHeaderExtensions: 32,
  maxEncodings: 8,
  maxFingerprints: 8,
  maxParameterEntries: 32,
  shortString: 128,
  idMaxLength: 64,
  chatMessageMaxLength: 2000,
  maxConsumerUpdates: 200,
  /** A room token (JWT) in a join. */
  tokenMaxLength: 4096,
} as const;
