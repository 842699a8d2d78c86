import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/index.ts';

describe('loadConfig', () => {
  it('works with no environment at all (localhost defaults)', () => {
    const config = loadConfig({});
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 3000 });
    // Media on every interface, announced at a detected address, one UDP + one TCP port per worker.
    expect(config.rtc).toMatchObject({ portMode: 'single', basePort: 40000, listenIp: '0.0.0.0', enableUdp: true, enableTcp: true });
    expect(config.rtc.announcedIp).toBeUndefined();
    expect(config.turn).toMatchObject({ urls: [], relayOnly: false, ttlSeconds: 86_400 });
    expect(config.workers.count).toBeGreaterThanOrEqual(1);
    expect(config.media.videoCodecs).toEqual(['VP8', 'VP9', 'H264']);
  });

  it('takes overrides from environment variables, typed', () => {
    const config = loadConfig({
      PORT: '8443',
      ROUNDTABLE_WORKERS: '3',
      ROUNDTABLE_RTC_LISTEN_IP: '0.0.0.0',
      ROUNDTABLE_ANNOUNCED_IP: '203.0.113.7',
      ROUNDTABLE_VIDEO_CODECS: 'VP8, H264',
      ROUNDTABLE_RTC_TCP: 'false',
      ROUNDTABLE_MAX_INCOMING_BITRATE: '2500000',
    });
    expect(config.http.port).toBe(8443);
    expect(config.workers.count).toBe(3);
    expect(config.rtc).toMatchObject({ listenIp: '0.0.0.0', announcedIp: '203.0.113.7', enableTcp: false });
    expect(config.media.videoCodecs).toEqual(['VP8', 'H264']);
    expect(config.media.maxIncomingBitrate).toBe(2_500_000);
  });

  it('takes TURN settings from the environment', () => {
    const config = loadConfig({
      ROUNDTABLE_TURN_URLS: 'turn:turn.example.org:3478?transport=udp, turns:turn.example.org:443?transport=tcp',
      ROUNDTABLE_TURN_SECRET: 's'.repeat(24),
      ROUNDTABLE_TURN_TTL_SECONDS: '3600',
      ROUNDTABLE_TURN_RELAY_ONLY: '1',
    });
    expect(config.turn).toEqual({
      urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:443?transport=tcp'],
      secret: 's'.repeat(24),
      ttlSeconds: 3600,
      relayOnly: true,
    });
  });

  it.each([
    [{ PORT: 'eighty' }, /http\.port \(PORT\)/],
    [{ ROUNDTABLE_WORKERS: '0' }, /workers\.count \(ROUNDTABLE_WORKERS\)/],
    [{ ROUNDTABLE_VIDEO_CODECS: 'VP8,AV2' }, /media\.videoCodecs/],
    [{ ROUNDTABLE_RTC_MIN_PORT: '50000', ROUNDTABLE_RTC_MAX_PORT: '40000' }, /rtc\.minPort.*must not exceed/],
    [{ ROUNDTABLE_ANNOUNCED_IP: 'media host' }, /rtc\.announcedIp \(ROUNDTABLE_ANNOUNCED_IP\)/],
    [{ ROUNDTABLE_RTC_PORT_MODE: 'many' }, /rtc\.portMode \(ROUNDTABLE_RTC_PORT_MODE\)/],
    [{ ROUNDTABLE_RTC_BASE_PORT: '70000' }, /rtc\.basePort \(ROUNDTABLE_RTC_BASE_PORT\)/],
    [{ ROUNDTABLE_RTC_BASE_PORT: '65535', ROUNDTABLE_WORKERS: '2' }, /rtc\.basePort.*one per worker/],
    [{ ROUNDTABLE_RTC_UDP: 'false', ROUNDTABLE_RTC_TCP: 'false' }, /rtc\.enableUdp.*cannot both be off/],
    [{ ROUNDTABLE_TURN_URLS: 'turn:turn.example.org:3478' }, /turn\.secret \(ROUNDTABLE_TURN_SECRET\).*required/],
    [{ ROUNDTABLE_TURN_URLS: 'http://turn.example.org', ROUNDTABLE_TURN_SECRET: 'x'.repeat(32) }, /turn\.urls\.0.*turn: or turns: URL/],
    [{ ROUNDTABLE_TURN_URLS: 'turn:a:3478', ROUNDTABLE_TURN_SECRET: 'short' }, /turn\.secret.*at least 16/],
    [{ ROUNDTABLE_TURN_SECRET: 'x'.repeat(32) }, /turn\.urls.*needs at least one turn:/],
    [{ ROUNDTABLE_TURN_URLS: 'turn:a:3478', ROUNDTABLE_TURN_SECRET: 'x'.repeat(32), ROUNDTABLE_TURN_TTL_SECONDS: '5' }, /turn\.ttlSeconds/],
    [{ ROUNDTABLE_TURN_RELAY_ONLY: 'true' }, /turn\.relayOnly.*needs turn\.urls/],
    [{ ROUNDTABLE_RTC_LISTEN_IP: 'not-an-ip' }, /rtc\.listenIp/],
    [{ ROUNDTABLE_TLS_CERT: '/x.pem' }, /http\.tlsKey.*go together/],
    [{ LOG_LEVEL: 'loud' }, /logLevel \(LOG_LEVEL\)/],
    [{ ROUNDTABLE_ACCESS_POLICY: 'closed' }, /access\.policy \(ROUNDTABLE_ACCESS_POLICY\)/],
    [{ ROUNDTABLE_ACCESS_POLICY: 'secret' }, /access\.creationSecret \(ROUNDTABLE_CREATION_SECRET\).*required when access\.policy is secret/],
    [{ ROUNDTABLE_ACCESS_POLICY: 'secret', ROUNDTABLE_CREATION_SECRET: 'short' }, /access\.creationSecret.*at least 16/],
    [{ ROUNDTABLE_ACCESS_POLICY: 'token' }, /access\.tokenSecret \(ROUNDTABLE_TOKEN_SECRET\).*required when access\.policy is token/],
    [{ ROUNDTABLE_ACCESS_POLICY: 'token', ROUNDTABLE_TOKEN_SECRET: 'x'.repeat(20) }, /access\.tokenSecret.*at least 32/],
  ])('fails fast naming the bad key: %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('takes the access policy from the environment; open by default', () => {
    expect(loadConfig({}).access.policy).toBe('open');
    const config = loadConfig({ ROUNDTABLE_ACCESS_POLICY: 'token', ROUNDTABLE_TOKEN_SECRET: 's'.repeat(32), ROUNDTABLE_TOKEN_ISSUER: 'https://app.example' });
    expect(config.access).toMatchObject({ policy: 'token', tokenSecret: 's'.repeat(32), tokenIssuer: 'https://app.example' });
  });

  it('reads a JSON config file, with environment variables taking precedence', async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/rt-config-');
    try {
      writeFileSync(`${dir}/c.json`, JSON.stringify({ http: { port: 4000 }, rooms: { maxPeersPerRoom: 12 } }));
      const config = loadConfig({ ROUNDTABLE_CONFIG: `${dir}/c.json`, PORT: '4001' });
      expect(config.http.port).toBe(4001);
      expect(config.rooms.maxPeersPerRoom).toBe(12);
      expect(() => loadConfig({ ROUNDTABLE_CONFIG: `${dir}/missing.json` })).toThrow(/cannot read ROUNDTABLE_CONFIG/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
