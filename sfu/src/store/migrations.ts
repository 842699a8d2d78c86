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
  // 2: people whose place in a room carries moderation state (hosts and co-hosts, people a host
  // muted, people a host removed), so that state survives a restart. The resume token is stored as its
  // SHA-256 only. Rows go with their room (foreign_keys is on in every connection).
  `CREATE TABLE members (
     room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
     peer_id TEXT NOT NULL,
     token_hash BLOB NOT NULL CHECK (length(token_hash) = 32),
     display_name TEXT NOT NULL,
     role TEXT NOT NULL CHECK (role IN ('host', 'cohost', 'participant', 'speaker', 'viewer')),
     mic_muted INTEGER NOT NULL DEFAULT 0 CHECK (mic_muted IN (0, 1)),
     removed INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1)),
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (room_id, peer_id)
   ) STRICT;`,
  // 3: who may share files, as a host set it; NULL follows the server's files.whoMayShare.
  `ALTER TABLE rooms ADD COLUMN file_sharing TEXT CHECK (file_sharing IS NULL OR file_sharing IN ('everyone', 'hosts'));`,
];
