import { createHmac } from 'node:crypto';
import type os from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { detectLanAddress, resolveMediaAddress } from '../../sfu/src/network/media-address.ts';
import { MediaListen } from '../../sfu/src/network/MediaListen.ts';
import { networkSettingsFor, turnRestCredential } from '../../sfu/src/network/turn-credentials.ts';

const iface = (address: string, internal = false, family: 'IPv4' | 'IPv6' = 'IPv4') =>
  ({ address, internal, family, netmask: '', mac: '', cidr: null }) as os.NetworkInterfaceInfo;

describe('media address', () => {
  const lan = { lo: [iface('127.0.0.1', true)], eth0: [iface('fe80::1', false, 'IPv6'), iface('169.254.3.4'), iface('10.1.2.3')] };

  it('detects the first non-internal, non-link-local IPv4 address', () => {
    expect(detectLanAddress(lan)).toBe('10.1.2.3');
    expect(detectLanAddress({ lo: [iface('127.0.0.1', true)] })).toBeUndefined();
  });

  it('announces the detected address by default, and says that NAT needs more', () => {
    const address = resolveMediaAddress({ listenIp: '0.0.0.0', announcedIp: undefined }, lan);
    expect(address).toMatchObject({ listenIp: '0.0.0.0', announcedIp: '10.1.2.3', origin: 'detected' });
    expect(address.warnings.join()).toMatch(/rtc\.announcedIp/);
  });

  it('falls back to loopback with no network, and says Firefox will not connect', () => {
    const address = resolveMediaAddress({ listenIp: '0.0.0.0', announcedIp: undefined }, { lo: [iface('127.0.0.1', true)] });
    expect(address).toMatchObject({ announcedIp: '127.0.0.1', origin: 'loopback-fallback' });
    expect(address.warnings.join()).toMatch(/Firefox .* will not connect/);
  });

  it('prefers the configured address, then a specific listen address', () => {
    expect(resolveMediaAddress({ listenIp: '0.0.0.0', announcedIp: 'media.example.org' }, lan)).toMatchObject({
      announcedIp: 'media.example.org',
      origin: 'configured',
      warnings: [],
    });
    expect(resolveMediaAddress({ listenIp: '10.9.9.9', announcedIp: undefined }, lan)).toMatchObject({ announcedIp: '10.9.9.9', origin: 'listen-ip' });
  });
});

describe('single-port listening', () => {
  it('gives worker i the port basePort + i, on UDP and TCP', () => {
    const { rtc } = loadConfig({}, { rtc: { basePort: 41000, announcedIp: '198.18.0.2' } });
    const listen = new MediaListen(rtc, resolveMediaAddress(rtc));
    expect(listen.webRtcServerPlan(2)).toEqual({
      listenInfos: [
        { protocol: 'udp', ip: '0.0.0.0', announcedAddress: '198.18.0.2', port: 41002 },
        { protocol: 'tcp', ip: '0.0.0.0', announcedAddress: '198.18.0.2', port: 41002 },
      ],
    });
  });

  it('has no WebRtcServer in range mode, and leaves out a protocol that is off', () => {
    const range = loadConfig({}, { rtc: { portMode: 'range', announcedIp: '198.18.0.2' } }).rtc;
    expect(new MediaListen(range, resolveMediaAddress(range)).webRtcServerPlan(0)).toBeUndefined();
    const udpOnly = loadConfig({}, { rtc: { enableTcp: false, announcedIp: '198.18.0.2' } }).rtc;
    expect(new MediaListen(udpOnly, resolveMediaAddress(udpOnly)).webRtcServerPlan(0)?.listenInfos.map((i) => i.protocol)).toEqual(['udp']);
  });
});

describe('TURN REST credentials', () => {
  const secret = 'correct horse battery staple';

  it('signs "expiry:id" with HMAC-SHA1 of the shared secret, as coturn use-auth-secret checks it', () => {
    const now = Date.UTC(2026, 11, 2, 12, 0, 0);
    const { username, credential, expiresAt } = turnRestCredential(secret, 'peer-1', 600, now);
    expect(username).toBe(`${now / 1000 + 600}:peer-1`);
    expect(expiresAt).toBe(now + 600_000);
    expect(credential).toBe(createHmac('sha1', secret).update(username).digest('base64'));
  });

  it('hands STUN URLs as they are and TURN URLs with credentials, capped at the configured TTL', () => {
    const turn = { urls: ['stun:s.example.org:3478', 'turn:t.example.org:3478?transport=udp', 'turns:t.example.org:443?transport=tcp'], secret, ttlSeconds: 300, relayOnly: true };
    const now = 1_800_000_000_000;
    const settings = networkSettingsFor(turn, 'p', { now, ttlSeconds: 9_999 });
    expect(settings.iceTransportPolicy).toBe('relay');
    expect(settings.iceServersExpireAt).toBe(now + 300_000);
    expect(settings.iceServers).toEqual([
      { urls: ['stun:s.example.org:3478'] },
      { urls: ['turn:t.example.org:3478?transport=udp', 'turns:t.example.org:443?transport=tcp'], username: `${now / 1000 + 300}:p`, credential: expect.any(String) },
    ]);
  });

  it('hands nothing without TURN', () => {
    expect(networkSettingsFor({ urls: [], ttlSeconds: 60, relayOnly: false }, 'p')).toEqual({ iceServers: [], iceTransportPolicy: 'all', iceServersExpireAt: null });
  });
});
