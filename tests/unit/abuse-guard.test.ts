import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/index.ts';
import { AddressLimits } from '../../sfu/src/guard/AddressLimits.ts';
import { clientAddress, limitKey } from '../../sfu/src/guard/client-address.ts';
import { KeyedRateLimit } from '../../sfu/src/guard/KeyedRateLimit.ts';
import { originAllowed } from '../../sfu/src/guard/origin.ts';
import { bearerMatches } from '../../sfu/src/http/operations.ts';

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('clientAddress', () => {
  it('is the socket address, IPv4-mapped IPv6 written as IPv4, when no proxy is trusted', () => {
    expect(clientAddress('::ffff:198.51.100.7', '203.0.113.1', 0)).toBe('198.51.100.7');
    expect(clientAddress('2001:DB8::1', undefined, 0)).toBe('2001:db8::1');
    expect(clientAddress(undefined, undefined, 0)).toBe('unknown');
  });

  it('behind n trusted proxies, is the n-th X-Forwarded-For entry from the right', () => {
    const header = '203.0.113.66, 198.51.100.7, 10.0.0.2';
    expect(clientAddress('10.0.0.1', header, 1)).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.1', header, 2)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.1', header, 5)).toBe('203.0.113.66'); // fewer entries than proxies: the leftmost
    expect(clientAddress('10.0.0.1', ['203.0.113.66', '198.51.100.7'], 1)).toBe('198.51.100.7'); // repeated headers
  });

  it('reads entries with ports and brackets, and falls back to the socket address on anything else', () => {
    expect(clientAddress('10.0.0.1', '198.51.100.7:5555', 1)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.1', '[2001:db8::7]:443', 1)).toBe('2001:db8::7');
    expect(clientAddress('10.0.0.1', 'unknown', 1)).toBe('10.0.0.1');
    expect(clientAddress('10.0.0.1', ' , ', 1)).toBe('10.0.0.1');
  });
});

describe('limitKey', () => {
  it('keeps IPv4 addresses, and groups IPv6 addresses by /64', () => {
    expect(limitKey('198.51.100.7')).toBe('198.51.100.7');
    expect(limitKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(limitKey('2001:db8:1:2::ffff')).toBe(limitKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'));
    expect(limitKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(limitKey('2001:db8:1:3::1')).not.toBe(limitKey('2001:db8:1:2::1'));
    expect(limitKey('64:ff9b::198.51.100.7')).toBe('64:ff9b:0:0::/64');
    expect(limitKey('unknown')).toBe('unknown');
  });
});

describe('originAllowed', () => {
  it('allows a missing Origin (not a browser) and the server\'s own origin', () => {
    expect(originAllowed(undefined, ['meet.example.org'], [])).toBe(true);
    expect(originAllowed('https://meet.example.org', ['meet.example.org'], [])).toBe(true);
    expect(originAllowed('https://Meet.Example.org', ['meet.example.org:443'], [])).toBe(true);
    expect(originAllowed('http://localhost:3000', ['localhost:3000'], [])).toBe(true);
    expect(originAllowed('http://[::1]:3000', ['[::1]:3000'], [])).toBe(true);
  });

  it('refuses other hosts, other ports, "null" and non-web schemes', () => {
    expect(originAllowed('https://evil.example', ['meet.example.org'], [])).toBe(false);
    expect(originAllowed('https://meet.example.org:8443', ['meet.example.org'], [])).toBe(false);
    expect(originAllowed('null', ['meet.example.org'], [])).toBe(false);
    expect(originAllowed('chrome-extension://abc', ['abc'], [])).toBe(false);
    expect(originAllowed('https://meet.example.org', [], [])).toBe(false);
  });

  it('allows the listed origins exactly', () => {
    const allowed = ['https://app.example.org'];
    expect(originAllowed('https://app.example.org', ['meet.example.org'], allowed)).toBe(true);
    expect(originAllowed('http://app.example.org', ['meet.example.org'], allowed)).toBe(false);
    expect(originAllowed('https://app.example.org.evil.example', ['meet.example.org'], allowed)).toBe(false);
  });
});

describe('KeyedRateLimit', () => {
  it('allows perMinute at once per key, then refills evenly', () => {
    const time = clock();
    const limit = new KeyedRateLimit(3, time.now);
    for (let i = 0; i < 3; i++) {
      expect(limit.available('a')).toBe(true);
      limit.take('a');
    }
    expect(limit.available('a')).toBe(false);
    expect(limit.available('b')).toBe(true);
    time.advance(19_000);
    expect(limit.available('a')).toBe(false);
    time.advance(1_000); // 20 s is one action's worth at 3 a minute
    expect(limit.available('a')).toBe(true);
  });

  it('forgets refilled keys on sweep, and never holds more than its key budget', () => {
    const time = clock();
    const limit = new KeyedRateLimit(2, time.now, 100);
    for (let i = 0; i < 1_000; i++) limit.take(`k${i}`);
    expect(limit.size).toBeLessThanOrEqual(100);
    time.advance(30_000);
    limit.sweep();
    expect(limit.size).toBeLessThanOrEqual(100); // half refilled: still remembered
    time.advance(30_000);
    limit.sweep();
    expect(limit.size).toBe(0);
  });
});

describe('AddressLimits', () => {
  const config = loadConfig({}, { limits: { connectionsPerAddress: 2, joinsPerMinute: 3, roomCreationsPerMinute: 1 } }).limits;

  it('counts open connections per address, and forgets an address with none', () => {
    const limits = new AddressLimits(config);
    expect(limits.openConnection('a')).toBe(true);
    expect(limits.openConnection('a')).toBe(true);
    expect(limits.openConnection('a')).toBe(false);
    expect(limits.openConnection('b')).toBe(true);
    limits.closeConnection('a');
    expect(limits.openConnection('a')).toBe(true);
    for (const key of ['a', 'a', 'b']) limits.closeConnection(key);
    expect(limits.entries).toBe(0);
  });

  it('refuses a join that opens a room past the creation budget without spending a join', () => {
    const time = clock();
    const limits = new AddressLimits(config, time.now);
    expect(limits.admitJoin('a', true)).toBeUndefined();
    expect(limits.admitJoin('a', true)).toBe('TOO_MANY_ROOMS');
    expect(limits.admitRoomCreation('a')).toBe(false);
    expect(limits.admitJoin('a', false)).toBeUndefined();
    expect(limits.admitJoin('a', false)).toBeUndefined();
    expect(limits.admitJoin('a', false)).toBe('TOO_MANY_JOINS');
    expect(limits.admitJoin('b', true)).toBeUndefined();
    time.advance(60_000);
    limits.sweep();
    expect(limits.entries).toBe(0);
  });
});

describe('bearerMatches', () => {
  it('accepts exactly the token', () => {
    const token = 'metrics-token-0123456789';
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`Bearer ${token}0`, token)).toBe(false);
    expect(bearerMatches(`Bearer ${token.slice(1)}`, token)).toBe(false);
    expect(bearerMatches(token, token)).toBe(false);
    expect(bearerMatches(undefined, token)).toBe(false);
  });
});

describe('abuse-limit configuration', () => {
  it('has defaults for a self-hosted server behind one office NAT', () => {
    const config = loadConfig({});
    expect(config.rooms.maxRooms).toBe(1_000);
    expect(config.limits).toEqual({ connectionsPerAddress: 200, joinsPerMinute: 300, roomCreationsPerMinute: 60 });
    expect(config.http.trustProxy).toBe(0);
    expect(config.signaling.allowedOrigins).toEqual([]);
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 9090 });
  });

  it('picks a free admin port when the main port is picked freely, unless set', () => {
    expect(loadConfig({ PORT: '0' }).admin.port).toBe(0);
    expect(loadConfig({ PORT: '0', ROUNDTABLE_ADMIN_PORT: '9191' }).admin.port).toBe(9191);
  });

  it('takes every key from the environment', () => {
    const config = loadConfig({
      ROUNDTABLE_TRUST_PROXY: 'true',
      ROUNDTABLE_MAX_ROOMS: '50',
      ROUNDTABLE_ALLOWED_ORIGINS: 'https://Meet.Example.org, http://localhost:5173/',
      ROUNDTABLE_MAX_CONNECTIONS_PER_ADDRESS: '20',
      ROUNDTABLE_JOINS_PER_MINUTE: '30',
      ROUNDTABLE_ROOM_CREATIONS_PER_MINUTE: '5',
      ROUNDTABLE_ADMIN_HOST: '10.0.0.5',
      ROUNDTABLE_ADMIN_PORT: '9100',
      ROUNDTABLE_METRICS_TOKEN: 'a-long-enough-token',
    });
    expect(config.http.trustProxy).toBe(1);
    expect(config.rooms.maxRooms).toBe(50);
    expect(config.signaling.allowedOrigins).toEqual(['https://meet.example.org', 'http://localhost:5173']);
    expect(config.limits).toEqual({ connectionsPerAddress: 20, joinsPerMinute: 30, roomCreationsPerMinute: 5 });
    expect(config.admin).toEqual({ host: '10.0.0.5', port: 9100, metricsToken: 'a-long-enough-token' });
    expect(loadConfig({ ROUNDTABLE_TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(loadConfig({ ROUNDTABLE_TRUST_PROXY: 'false' }).http.trustProxy).toBe(0);
  });

  it.each([
    [{ ROUNDTABLE_TRUST_PROXY: 'yes' }, 'http.trustProxy (ROUNDTABLE_TRUST_PROXY)'],
    [{ ROUNDTABLE_TRUST_PROXY: '-1' }, 'http.trustProxy (ROUNDTABLE_TRUST_PROXY)'],
    [{ ROUNDTABLE_MAX_ROOMS: '0' }, 'rooms.maxRooms (ROUNDTABLE_MAX_ROOMS)'],
    [{ ROUNDTABLE_ALLOWED_ORIGINS: 'https://meet.example.org/app' }, 'signaling.allowedOrigins'],
    [{ ROUNDTABLE_ALLOWED_ORIGINS: 'meet.example.org' }, 'signaling.allowedOrigins'],
    [{ ROUNDTABLE_MAX_CONNECTIONS_PER_ADDRESS: '0' }, 'limits.connectionsPerAddress (ROUNDTABLE_MAX_CONNECTIONS_PER_ADDRESS)'],
    [{ ROUNDTABLE_JOINS_PER_MINUTE: 'many' }, 'limits.joinsPerMinute (ROUNDTABLE_JOINS_PER_MINUTE)'],
    [{ ROUNDTABLE_ROOM_CREATIONS_PER_MINUTE: '1.5' }, 'limits.roomCreationsPerMinute (ROUNDTABLE_ROOM_CREATIONS_PER_MINUTE)'],
    [{ ROUNDTABLE_ADMIN_PORT: '70000' }, 'admin.port (ROUNDTABLE_ADMIN_PORT)'],
    [{ ROUNDTABLE_ADMIN_PORT: '3000' }, 'admin.port (ROUNDTABLE_ADMIN_PORT): must differ from http.port'],
    [{ PORT: '9090' }, 'admin.port (ROUNDTABLE_ADMIN_PORT): must differ from http.port'],
    [{ ROUNDTABLE_METRICS_TOKEN: 'short' }, 'admin.metricsToken (ROUNDTABLE_METRICS_TOKEN)'],
    [{ ROUNDTABLE_METRICS_TOKEN: 'has a space in it, sadly' }, 'admin.metricsToken (ROUNDTABLE_METRICS_TOKEN)'],
  ])('refuses %o, naming the key', (env, key) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(key);
  });
});
