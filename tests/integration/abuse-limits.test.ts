/**
 * The abuse limits against a real server on loopback, with real socket.io-client connections from
 * distinct source addresses (loopback is a /8: 127.0.0.2, 127.0.0.3, … are all this machine).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode, Reply } from '../../shared/index.ts';
import { type ConnectOptions, TestClient } from '../helpers/client.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

const open: TestClient[] = [];
afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

async function connect(t: TestServer, localAddress: string, headers?: Record<string, string>): Promise<TestClient> {
  const client = await TestClient.connect(t.url, { localAddress, ...(headers ? { headers } : {}) });
  open.push(client);
  return client;
}

/** The code a refused connection carries in its connect_error. */
async function refusal(t: TestServer, options: ConnectOptions): Promise<unknown> {
  try {
    open.push(await TestClient.connect(t.url, options));
    return 'connected';
  } catch (error) {
    return (error as { data?: { code?: string } }).data?.code ?? (error as Error).message;
  }
}

async function join(t: TestServer, localAddress: string, roomId: string): Promise<Reply<unknown>> {
  return (await connect(t, localAddress)).send('join', { roomId, displayName: 'X' });
}

function codeOf(reply: Reply<unknown>): ErrorCode | 'ok' {
  return reply.ok ? 'ok' : reply.error.code;
}

describe('connections per address', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ limits: { connectionsPerAddress: 3 } });
  });
  afterAll(() => t.close());

  it('refuses one past the limit with TOO_MANY_CONNECTIONS, serves other addresses, and frees a slot on close', async () => {
    const first = await connect(t, '127.0.0.2');
    await connect(t, '127.0.0.2');
    await connect(t, '127.0.0.2');
    expect(await refusal(t, { localAddress: '127.0.0.2' })).toBe('TOO_MANY_CONNECTIONS');
    expect(await refusal(t, { localAddress: '127.0.0.3' })).toBe('connected');

    first.close();
    await expect.poll(() => refusal(t, { localAddress: '127.0.0.2' })).toBe('connected');
    expect(await refusal(t, { localAddress: '127.0.0.2' })).toBe('TOO_MANY_CONNECTIONS');
  });
});

describe('room creations per address', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ limits: { roomCreationsPerMinute: 3 } });
  });
  afterAll(() => t.close());

  it('lets one address open so many rooms a minute, then refuses with TOO_MANY_ROOMS; joining open rooms and other addresses go on', async () => {
    for (const room of ['made-1', 'made-2', 'made-3']) expect(codeOf(await join(t, '127.0.0.4', room))).toBe('ok');
    expect(codeOf(await join(t, '127.0.0.4', 'made-4'))).toBe('TOO_MANY_ROOMS');
    expect(t.server.registry.get('made-4')).toBeUndefined();
    expect(t.server.registry.size).toBe(3);

    // Joining a room that is open creates nothing, so it does not count.
    expect(codeOf(await join(t, '127.0.0.4', 'made-1'))).toBe('ok');
    expect(t.server.registry.get('made-1')!.peers.size).toBe(2);
    // Another address has its own budget.
    expect(codeOf(await join(t, '127.0.0.5', 'made-5'))).toBe('ok');
  });

  it('counts a new webinar as a room creation', async () => {
    const spent = await connect(t, '127.0.0.4');
    expect(codeOf(await spent.send('createWebinar', {}))).toBe('TOO_MANY_ROOMS');
    const fresh = await connect(t, '127.0.0.6');
    for (let i = 0; i < 3; i++) expect(codeOf(await fresh.send('createWebinar', {}))).toBe('ok');
    expect(codeOf(await fresh.send('createWebinar', {}))).toBe('TOO_MANY_ROOMS');
  });

  it('counts a new meeting with links as a room creation, from the same budget as webinars', async () => {
    const client = await connect(t, '127.0.0.7');
    for (let i = 0; i < 3; i++) expect(codeOf(await client.send('createMeeting', {}))).toBe('ok');
    expect(codeOf(await client.send('createMeeting', {}))).toBe('TOO_MANY_ROOMS');
    expect(codeOf(await client.send('createWebinar', {}))).toBe('TOO_MANY_ROOMS');
    expect(codeOf(await (await connect(t, '127.0.0.8')).send('createMeeting', {}))).toBe('ok');
  });
});

describe('joins per address', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ limits: { joinsPerMinute: 4 } });
  });
  afterAll(() => t.close());

  it('refuses joins past the limit with TOO_MANY_JOINS, adding nobody; another address still joins', async () => {
    for (let i = 0; i < 4; i++) expect(codeOf(await join(t, '127.0.0.7', 'busy-room'))).toBe('ok');
    expect(codeOf(await join(t, '127.0.0.7', 'busy-room'))).toBe('TOO_MANY_JOINS');
    expect(t.server.registry.get('busy-room')!.peers.size).toBe(4);
    expect(codeOf(await join(t, '127.0.0.8', 'busy-room'))).toBe('ok');
    expect(t.server.registry.get('busy-room')!.peers.size).toBe(5);
  });
});

describe('server-wide room cap', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ rooms: { maxRooms: 2 } });
  });
  afterAll(() => t.close());

  it('refuses a join that would open one room too many with SERVER_FULL, whatever the address', async () => {
    const host = await connect(t, '127.0.0.9');
    expect(codeOf(await host.send('join', { roomId: 'cap-1', displayName: 'A' }))).toBe('ok');
    expect(codeOf(await join(t, '127.0.0.10', 'cap-2'))).toBe('ok');
    expect(codeOf(await join(t, '127.0.0.11', 'cap-3'))).toBe('SERVER_FULL');
    expect(t.server.registry.get('cap-3')).toBeUndefined();
    // Open rooms stay joinable.
    expect(codeOf(await join(t, '127.0.0.11', 'cap-1'))).toBe('ok');

    // A room that closes frees its place.
    await host.send('leave', {});
    for (const client of open.splice(2)) client.close(); // the second joiner of cap-1
    await expect.poll(() => t.server.registry.size).toBe(1);
    expect(codeOf(await join(t, '127.0.0.11', 'cap-3'))).toBe('ok');
  });

  it('holds under simultaneous joins to new rooms', async () => {
    const capped = await startTestServer({ rooms: { maxRooms: 3 } });
    try {
      const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => TestClient.connect(capped.url, { localAddress: `127.0.1.${i + 1}` })));
      open.push(...clients);
      const replies = await Promise.all(clients.map((client, i) => client.send('join', { roomId: `rush-${i}`, displayName: 'X' })));
      const codes = replies.map(codeOf);
      expect(codes.filter((c) => c === 'ok')).toHaveLength(3);
      expect(codes.filter((c) => c === 'SERVER_FULL')).toHaveLength(5);
      expect(capped.server.registry.size).toBe(3);
    } finally {
      for (const client of open.splice(0)) client.close();
      await capped.close();
    }
  });
});

describe('Origin of the signaling handshake', () => {
  let t: TestServer;
  let listed: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    listed = await startTestServer({ signaling: { allowedOrigins: 'https://meet.example.org, http://localhost:5173' } });
  });
  afterAll(async () => {
    await t.close();
    await listed.close();
  });

  it('refuses a page of another site with ORIGIN_NOT_ALLOWED', async () => {
    expect(await refusal(t, { headers: { origin: 'https://evil.example' } })).toBe('ORIGIN_NOT_ALLOWED');
    expect(await refusal(t, { headers: { origin: 'null' } })).toBe('ORIGIN_NOT_ALLOWED');
    // Same host name, other port: another origin.
    expect(await refusal(t, { headers: { origin: 'http://127.0.0.1:1' } })).toBe('ORIGIN_NOT_ALLOWED');
  });

  it('accepts the server\'s own origin, and a client that sends none (not a browser)', async () => {
    expect(await refusal(t, { headers: { origin: t.url } })).toBe('connected');
    expect(await refusal(t, {})).toBe('connected');
  });

  it('accepts the origins of signaling.allowedOrigins, and only those', async () => {
    expect(await refusal(listed, { headers: { origin: 'https://meet.example.org' } })).toBe('connected');
    expect(await refusal(listed, { headers: { origin: 'http://localhost:5173' } })).toBe('connected');
    expect(await refusal(listed, { headers: { origin: 'https://meet.example.org.evil.example' } })).toBe('ORIGIN_NOT_ALLOWED');
    expect(await refusal(listed, { headers: { origin: 'http://meet.example.org' } })).toBe('ORIGIN_NOT_ALLOWED');
    expect(await refusal(listed, { headers: { origin: listed.url } })).toBe('connected');
  });
});

describe('X-Forwarded-For and http.trustProxy', () => {
  let direct: TestServer;
  let proxied: TestServer;
  beforeAll(async () => {
    direct = await startTestServer({ limits: { connectionsPerAddress: 2 } });
    proxied = await startTestServer({ http: { host: '127.0.0.1', port: 0, staticDir: '', trustProxy: 1 }, limits: { connectionsPerAddress: 2 } });
  });
  afterAll(async () => {
    await direct.close();
    await proxied.close();
  });

  it('is ignored by default: a client cannot dodge its limit by claiming other addresses', async () => {
    expect(await refusal(direct, { localAddress: '127.0.0.12', headers: { 'x-forwarded-for': '198.51.100.1' } })).toBe('connected');
    expect(await refusal(direct, { localAddress: '127.0.0.12', headers: { 'x-forwarded-for': '198.51.100.2' } })).toBe('connected');
    expect(await refusal(direct, { localAddress: '127.0.0.12', headers: { 'x-forwarded-for': '198.51.100.3' } })).toBe('TOO_MANY_CONNECTIONS');
  });

  it('with trustProxy, limits the address the proxy saw (the right-most entry), not the proxy\'s own', async () => {
    const via = (forwardedFor: string) => refusal(proxied, { localAddress: '127.0.0.13', headers: { 'x-forwarded-for': forwardedFor } });
    expect(await via('198.51.100.1')).toBe('connected');
    expect(await via('198.51.100.1')).toBe('connected');
    expect(await via('198.51.100.1')).toBe('TOO_MANY_CONNECTIONS');
    // What the client wrote itself, left of what the proxy appended, changes nothing.
    expect(await via('203.0.113.99, 198.51.100.1')).toBe('TOO_MANY_CONNECTIONS');
    // Clients behind the same proxy are told apart.
    expect(await via('198.51.100.2')).toBe('connected');
  });
});
