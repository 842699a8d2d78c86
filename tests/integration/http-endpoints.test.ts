import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinPeer } from '../helpers/meeting.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ workers: { count: 2 } });
});
afterAll(async () => {
  await t.close();
});

describe('operations endpoints', () => {
  it('the admin listener\'s /metrics reports rooms, participants and per-worker media objects and CPU from the real workers', async () => {
    const alice = await joinPeer(t.url, 'metrics', 'Alice', { publish: true });
    const bob = await joinPeer(t.url, 'metrics', 'Bob');
    await bob.client.waitFor('consumerAdded', (e) => e.consumer.kind === 'video');
    const response = await fetch(`${t.server.adminUrl()}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await response.text();
    expect(text).toMatch(/^roundtable_rooms 1$/m);
    expect(text).toMatch(/^roundtable_participants 2$/m);
    const consumers = [...text.matchAll(/^roundtable_worker_consumers\{worker="(\d)"\} (\d+)$/gm)].map((m) => Number(m[2]));
    expect(consumers).toHaveLength(2);
    expect(consumers.reduce((a, b) => a + b, 0)).toBe(2);
    expect(text).toMatch(/^roundtable_worker_cpu_seconds_total\{worker="1"\} [\d.e-]+$/m);
    alice.client.close();
    bob.client.close();
  });

  it('the admin listener\'s /healthz answers with rooms and worker loads', async () => {
    const body = (await (await fetch(`${t.server.adminUrl()}/healthz`)).json()) as { status: string; rooms: number; workers: unknown[] };
    expect(body.status).toBe('ok');
    expect(body.rooms).toBeTypeOf('number');
    expect(body.workers).toHaveLength(2);
  });

  it('the admin listener is a separate loopback port and serves nothing else', async () => {
    const admin = new URL(t.server.adminUrl());
    expect(admin.hostname).toBe('127.0.0.1');
    expect(admin.port).not.toBe(new URL(t.url).port);
    expect((await fetch(`${t.server.adminUrl()}/`)).status).toBe(404);
  });

  it('the main port\'s /healthz says only that the server is up', async () => {
    const response = await fetch(`${t.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('the main port has no /metrics without a metrics token configured', async () => {
    const response = await fetch(`${t.url}/metrics`);
    expect(response.status).toBe(404);
    expect(await response.text()).not.toMatch(/roundtable_/);
  });
});

describe('/metrics on the main port with admin.metricsToken', () => {
  const token = 'metrics-token-0123456789';
  let withToken: TestServer;
  beforeAll(async () => {
    withToken = await startTestServer({ admin: { metricsToken: token } });
  });
  afterAll(async () => {
    await withToken.close();
  });

  it('is served to the bearer of the token', async () => {
    const response = await fetch(`${withToken.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/^roundtable_rooms 0$/m);
  });

  it('is refused without the token, or with a wrong one', async () => {
    for (const headers of [{}, { authorization: `Bearer ${token}x` }, { authorization: `Basic ${token}` }, { authorization: 'Bearer' }] as Array<Record<string, string>>) {
      const response = await fetch(`${withToken.url}/metrics`, { headers });
      expect(response.status).toBe(401);
      expect(await response.text()).not.toMatch(/roundtable_/);
    }
  });

  it('stays open on the admin port, where no token is asked', async () => {
    expect((await fetch(`${withToken.server.adminUrl()}/metrics`)).status).toBe(200);
  });
});
