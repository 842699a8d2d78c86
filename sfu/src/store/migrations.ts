/**
 * The room store's schema, one step per version: step i takes the database from version i to i + 1.
 * Steps are append-only. Once released, a step never changes; a new need is a new step.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: rooms with a persistent identity. Webinars carry the SHA-256 of their two link keys, never the
  // keys. lobby and locked are room settings for the moderation features (0/1).
  `CREATE TABLE rooms (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('meeting', 'webinar')),
     host_key_hash BLOB CHECK (host_key_hash IS NULL OR length(host_key_hash) = 32),
     audience_key_hash BLOB CHECK (audience_key_hash IS NULL OR length(audience_key_hash) = 32),
     created_at INTEGER NOT NULL,
     last_active_at INTEGER NOT NULL,
     lobby INTEGER NOT NULL DEFAULT 0 CHECK (lobby IN (0, 1)),
     locked INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
     CHECK (kind <> 'webinar' OR (host_key_hash IS NOT NULL AND audience_key_hash IS NOT NULL))
   ) STRICT;
   CREATE INDEX rooms_last_active_at ON rooms (last_active_at);`,
];
