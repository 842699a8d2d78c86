import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import type { types } from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { joinPeer } from '../helpers/meeting.ts';
import { DTLS_PARAMETERS } from '../helpers/rtp-fixtures.ts';
import { type TestServer, startTestServer, workerCounts } from '../helpers/server.ts';

type RouterInternals = { transportsForTesting: Map<string, types.Transport> };

const run = promisify(execFile);
const SECRET = 'integration-test-secret-0123456789';
const TURN_URLS = ['turn:127.0.0.1:3478?transport=udp', 'turns:127.0.0.1:5349?transport=tcp'];

/** Local ports of the sockets a process holds, from `ss` (what a firewall would have to let through). */
async function socketPorts(pid: number, protocol: 'udp' | 'tcp'): Promise<number[]> {
  const { stdout } = await run('ss', ['-Hanp', protocol === 'udp' ? '-u' : '-t']);
  const ports = stdout
    .split('\n')
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => Number(line.trim().split(/\s+/)[3]?.split(':').pop()));
  return [...new Set(ports)].sort((a, b) => a - b);
}

describe('single-port mode', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ workers: { count: 2, consumerBudget: 2 } });
  });
  afterAll(() => t.close());

  it('a meeting of several peers on two workers opens no media sockets beyond one UDP and one TCP port per worker', async () => {
    const listening = await t.server.pool.listeningPorts();
    expect(listening).toHaveLength(2);
    for (const worker of listening) {
      expect(worker.udp).toHaveLength(1);
      expect(worker.tcp).toHaveLength(1);
    }
    // A small consumer budget makes the room spread over both workers.
    const peers = [];
    for (const name of ['Ann', 'Ben', 'Cat', 'Dan', 'Eve']) peers.push(await joinPeer(t.url, 'one-port', name, { publish: true }));
    // Everyone receives everyone else's microphone and camera, across the pipe between the workers.
    for (const peer of peers) await expect.poll(() => peer.client.consumersAdded().length, { timeout: 10_000 }).toBe(4 * 2);
    const loads = t.server.pool.loads();
    expect(loads.every((load) => load.transports > 0)).toBe(true);

    const announced = new Set<number>();
    for (const peer of peers) {
      for (const transport of [peer.recvTransportId, peer.sendTransportId]) expect(transport).toBeDefined();
    }
    // Every transport's candidates name its worker's ports, and nothing else.
    const probe = await TestClient.connect(t.url);
    const reply = await probe.ok('checkConnectivity', {});
    for (const info of Object.values(reply.transports)) for (const candidate of info.iceCandidates) announced.add(candidate.port);
    probe.close();
    const allowed = listening.flatMap((worker) => [...worker.udp, ...worker.tcp]);
    for (const port of announced) expect(allowed).toContain(port);

    // The room spans both workers; the pipe between them is worker-to-worker, on loopback, not for browsers.
    const room = t.server.registry.get('one-port')!;
    expect(room.routers.all()).toHaveLength(2);
    // Since mediasoup 3.15 the public Router type no longer lists transportsForTesting (its class has it).
    const pipePorts = room.routers
      .all()
      .flatMap((router) => [...(router as unknown as RouterInternals).transportsForTesting.values()])
      .filter((transport): transport is types.PipeTransport => transport.type === 'pipe')
      .map((transport) => transport.tuple.localPort);
    expect(pipePorts.length).toBeGreaterThan(0);
    for (const [index, load] of loads.entries()) {
      const worker = listening[index]!;
      const udp = (await socketPorts(load.pid, 'udp')).filter((port) => !pipePorts.includes(port));
      expect(udp).toEqual(worker.udp);
      // TCP: the listening socket, plus nothing but accepted connections on the same port.
      expect(await socketPorts(load.pid, 'tcp')).toEqual(worker.tcp);
    }
    for (const peer of peers) peer.client.close();
  });
});

describe('port-range mode', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ rtc: { listenIp: '127.0.0.1', portMode: 'range', minPort: 45000, maxPort: 45999 } });
  });
  afterAll(() => t.close());

  it('gives each transport its own port from the range', async () => {
    const ann = await joinPeer(t.url, 'range', 'Ann', { publish: true });
    const { pid } = t.server.pool.loads()[0]!;
    const ports = await socketPorts(pid, 'udp');
    expect(ports).toHaveLength(2); // Ann's send and receive transports
    for (const port of ports) expect(port).toBeGreaterThanOrEqual(45000);
    for (const port of ports) expect(port).toBeLessThanOrEqual(45999);
    ann.client.close();
  });
});

describe('TURN credentials', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ turn: { urls: TURN_URLS, secret: SECRET, ttlSeconds: 600 } });
  });
  afterAll(() => t.close());

  it('each member gets its own time-limited TURN REST credential with the join reply, and fresh ones on request', async () => {
    const before = Date.now();
    const ann = await joinPeer(t.url, 'turn', 'Ann', { ready: false });
    const { network } = ann.join;
    expect(network.iceTransportPolicy).toBe('all');
    expect(network.iceServers).toHaveLength(1);
    const [server] = network.iceServers;
    expect(server!.urls).toEqual(TURN_URLS);
    const [expiry, id] = server!.username!.split(':');
    expect(id).toBe(ann.join.peerId);
    expect(Number(expiry) * 1000).toBe(network.iceServersExpireAt);
    expect(Number(expiry) * 1000).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000);
    expect(server!.credential).toBe(createHmac('sha1', SECRET).update(server!.username!).digest('base64'));

    await new Promise((resolve) => setTimeout(resolve, 1100));
    const fresh = await ann.client.ok('refreshIceServers', {});
    expect(fresh.iceServersExpireAt).toBeGreaterThan(network.iceServersExpireAt!);
    ann.client.close();
  });

  it('a pre-join check gets a relay probe with credentials that live a minute at most', async () => {
    const client = await TestClient.connect(t.url);
    const probe = await client.ok('checkConnectivity', {});
    expect(Object.keys(probe.transports).sort()).toEqual(['relay', 'tcp', 'udp']);
    expect(probe.transports.udp!.iceCandidates.map((c) => c.protocol)).toEqual(['udp']);
    expect(probe.transports.tcp!.iceCandidates.map((c) => c.protocol)).toEqual(['tcp']);
    expect(probe.transports.udp!.sctpParameters).toBeDefined();
    const expiry = Number(probe.iceServers[0]!.username!.split(':')[0]) * 1000;
    expect(expiry - Date.now()).toBeLessThanOrEqual(60_000);
    client.close();
  });
});

describe('pre-join connectivity check', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it('offers UDP and TCP probes (no relay without TURN), rate-limits checks, and closes probes on disconnect', async () => {
    const before = await workerCounts(t.server);
    const client = await TestClient.connect(t.url);
    const probe = await client.ok('checkConnectivity', {});
    expect(Object.keys(probe.transports).sort()).toEqual(['tcp', 'udp']);
    expect(probe.iceServers).toEqual([]);
    expect((await workerCounts(t.server)).transports).toBe(before.transports + 2);
    expect(await client.send('checkConnectivity', {})).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
    expect(await client.send('connectProbe', { path: 'relay', dtlsParameters: DTLS_PARAMETERS })).toMatchObject({
      ok: false,
      error: { code: 'TRANSPORT_NOT_FOUND' },
    });
    expect(await client.send('connectProbe', { path: 'sideways', dtlsParameters: DTLS_PARAMETERS })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_PAYLOAD' },
    });
    client.close();
    await expect.poll(async () => (await workerCounts(t.server)).transports).toBe(before.transports);
  });

  it('closes the probe when the person joins, and refuses a check from inside a room', async () => {
    const before = await workerCounts(t.server);
    const client = await TestClient.connect(t.url);
    await client.ok('checkConnectivity', {});
    await client.ok('join', { roomId: 'probe-then-join', displayName: 'Ann' });
    await expect.poll(async () => (await workerCounts(t.server)).transports).toBe(before.transports);
    expect(await client.send('checkConnectivity', {})).toMatchObject({ ok: false, error: { code: 'ALREADY_JOINED' } });
    expect(await client.send('refreshIceServers', {})).toMatchObject({ ok: true, data: { iceServers: [], iceServersExpireAt: null } });
    client.close();
  });
});

describe('the relay probe follows the access policy', () => {
  const TOKEN_SECRET = 'the-operators-application-hs256-secret!';
  const CREATION_SECRET = 'a-creation-secret-of-the-operator';
  const turn = { urls: TURN_URLS, secret: SECRET, ttlSeconds: 600 };
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.close();
  });

  /** The paths a fresh connection's check is offered, and whether any TURN credential came with them. */
  async function probe(t: TestServer, request: { roomId?: string; token?: string }): Promise<{ paths: string[]; turnCredentials: boolean }> {
    const client = await TestClient.connect(t.url);
    try {
      const reply = await client.ok('checkConnectivity', request);
      return {
        paths: Object.keys(reply.transports).sort(),
        turnCredentials: reply.iceServers.some((server) => server.credential !== undefined || server.urls.some((url) => url.startsWith('turn'))),
      };
    } finally {
      client.close();
    }
  }

  it('token: only with a valid token for the room; without one, UDP and TCP are still checked', async () => {
    const t = await startTestServer({ turn, access: { policy: 'token', tokenSecret: TOKEN_SECRET } });
    servers.push(t);
    const token = await new SignJWT({ room: 'app-room' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(TOKEN_SECRET));
    const withheld = { paths: ['tcp', 'udp'], turnCredentials: false };
    expect(await probe(t, {})).toEqual(withheld);
    expect(await probe(t, { roomId: 'app-room' })).toEqual(withheld);
    expect(await probe(t, { roomId: 'other-room', token })).toEqual(withheld);
    expect(await probe(t, { roomId: 'app-room', token: token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA') })).toEqual(withheld);
    expect(await probe(t, { roomId: 'app-room', token })).toEqual({ paths: ['relay', 'tcp', 'udp'], turnCredentials: true });
  });

  it('secret: only for a room that exists; open: for anyone', async () => {
    const secret = await startTestServer({ turn, access: { policy: 'secret', creationSecret: CREATION_SECRET } });
    servers.push(secret);
    const creator = await TestClient.connect(secret.url);
    const { roomId } = await creator.ok('createMeeting', { secret: CREATION_SECRET });
    creator.close();
    expect(await probe(secret, { roomId: 'made-up-room' })).toEqual({ paths: ['tcp', 'udp'], turnCredentials: false });
    expect(await probe(secret, { roomId })).toEqual({ paths: ['relay', 'tcp', 'udp'], turnCredentials: true });

    const open = await startTestServer({ turn });
    servers.push(open);
    expect(await probe(open, {})).toEqual({ paths: ['relay', 'tcp', 'udp'], turnCredentials: true });
  });
});
