import { createHmac } from 'node:crypto';
import type { Config } from '../../../config/index.ts';
import type { IceServer, NetworkSettings } from '../../../shared/index.ts';

/**
 * TURN REST credentials, as coturn's `use-auth-secret` checks them: the username is
 * `<expiry unix seconds>:<id>` and the password is base64(HMAC-SHA1(secret, username)). coturn needs
 * nothing per user, and a credential stops working by itself at its expiry.
 */
export function turnRestCredential(secret: string, id: string, ttlSeconds: number, now = Date.now()) {
  const expiresAt = (Math.floor(now / 1000) + ttlSeconds) * 1000;
  const username = `${expiresAt / 1000}:${id}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt };
}

/**
 * What a client's transports are configured with: STUN URLs as they are, TURN URLs with fresh
 * credentials for `id` valid for `ttlSeconds` (never beyond the operator's TTL).
 */
export function networkSettingsFor(
  turn: Config['turn'],
  id: string,
  options: { ttlSeconds?: number; now?: number } = {},
): NetworkSettings {
  const stun = turn.urls.filter((url) => url.startsWith('stun:'));
  const relays = turn.urls.filter((url) => !url.startsWith('stun:'));
  const iceServers: IceServer[] = stun.length ? [{ urls: stun }] : [];
  let iceServersExpireAt: number | null = null;
  if (relays.length && turn.secret) {
    const ttl = Math.min(options.ttlSeconds ?? turn.ttlSeconds, turn.ttlSeconds);
    const { username, credential, expiresAt } = turnRestCredential(turn.secret, id, ttl, options.now);
    iceServers.push({ urls: relays, username, credential });
    iceServersExpireAt = expiresAt;
  }
  return { iceServers, iceTransportPolicy: turn.relayOnly ? 'relay' : 'all', iceServersExpireAt };
}
