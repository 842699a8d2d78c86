import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/index.ts';

describe('loadConfig', () => {
  it('works with no environment at all (localhost defaults)', () => {
    const config = loadConfig({});
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 3000 });
    expect(config.rtc).toMatchObject({ listenIp: '127.0.0.1', minPort: 40000, maxPort: 49999, enableTcp: true });
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

  it.each([
    [{ PORT: 'eighty' }, /http\.port \(PORT\)/],
    [{ ROUNDTABLE_WORKERS: '0' }, /workers\.count \(ROUNDTABLE_WORKERS\)/],
    [{ ROUNDTABLE_VIDEO_CODECS: 'VP8,AV2' }, /media\.videoCodecs/],
    [{ ROUNDTABLE_RTC_MIN_PORT: '50000', ROUNDTABLE_RTC_MAX_PORT: '40000' }, /rtc\.minPort.*must not exceed/],
    [{ ROUNDTABLE_RTC_LISTEN_IP: '0.0.0.0' }, /rtc\.announcedIp \(ROUNDTABLE_ANNOUNCED_IP\).*required/],
    [{ ROUNDTABLE_RTC_LISTEN_IP: 'not-an-ip' }, /rtc\.listenIp/],
    [{ ROUNDTABLE_TLS_CERT: '/x.pem' }, /http\.tlsKey.*go together/],
    [{ LOG_LEVEL: 'loud' }, /logLevel \(LOG_LEVEL\)/],
  ])('fails fast naming the bad key: %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reads a JSON config file, with environment variables taking precedence', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/rt-config-');
    writeFileSync(`${dir}/c.json`, JSON.stringify({ http: { port: 4000 }, rooms: { maxPeersPerRoom: 12 } }));
    const config = loadConfig({ ROUNDTABLE_CONFIG: `${dir}/c.json`, PORT: '4001' });
    expect(config.http.port).toBe(4001);
    expect(config.rooms.maxPeersPerRoom).toBe(12);
    expect(() => loadConfig({ ROUNDTABLE_CONFIG: `${dir}/missing.json` })).toThrow(/cannot read ROUNDTABLE_CONFIG/);
  });
});
