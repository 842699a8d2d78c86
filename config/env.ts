/** Environment variables that override configuration keys (documented in the README). */
export const ENV_KEYS = {
  PORT: 'http.port',
  HOST: 'http.host',
  ROUNDTABLE_TLS_CERT: 'http.tlsCert',
  ROUNDTABLE_TLS_KEY: 'http.tlsKey',
  ROUNDTABLE_STATIC_DIR: 'http.staticDir',
  ROUNDTABLE_RTC_LISTEN_IP: 'rtc.listenIp',
  ROUNDTABLE_ANNOUNCED_IP: 'rtc.announcedIp',
  ROUNDTABLE_RTC_MIN_PORT: 'rtc.minPort',
  ROUNDTABLE_RTC_MAX_PORT: 'rtc.maxPort',
  ROUNDTABLE_RTC_TCP: 'rtc.enableTcp',
  ROUNDTABLE_WORKERS: 'workers.count',
  ROUNDTABLE_WORKER_LOG_LEVEL: 'workers.logLevel',
  ROUNDTABLE_VIDEO_CODECS: 'media.videoCodecs',
  ROUNDTABLE_MAX_INCOMING_BITRATE: 'media.maxIncomingBitrate',
  ROUNDTABLE_INITIAL_OUTGOING_BITRATE: 'media.initialOutgoingBitrate',
  ROUNDTABLE_MAX_OUTGOING_BITRATE: 'media.maxOutgoingBitrate',
  ROUNDTABLE_MAX_PEERS_PER_ROOM: 'rooms.maxPeersPerRoom',
  ROUNDTABLE_RECONNECT_GRACE_MS: 'rooms.reconnectGraceMs',
  ROUNDTABLE_CHAT_HISTORY: 'rooms.chatHistory',
  ROUNDTABLE_SPEAKER_HOLD_MS: 'speakers.holdMs',
  ROUNDTABLE_SPEAKING_THRESHOLD_DB: 'speakers.speakingThresholdDb',
  ROUNDTABLE_SIGNALING_RPS: 'signaling.requestsPerSecond',
  ROUNDTABLE_SIGNALING_BURST: 'signaling.requestBurst',
  LOG_LEVEL: 'logLevel',
} as const;

/** Optional JSON file, read before the environment so variables win. */
export const CONFIG_FILE_ENV = 'ROUNDTABLE_CONFIG';
