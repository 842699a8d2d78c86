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
  it('/metrics reports rooms, participants and per-worker media objects and CPU from the real workers', async () => {
    const alice = await joinPeer(t.url, 'metrics', 'Alice', { publish: true });
    const bob = await joinPeer(t.url, 'metrics', 'Bob');
    await bob.client.waitFor('consumerAdded', (e) => e.consumer.kind === 'video');
    const response = await fetch(`${t.url}/metrics`);
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

  it('/healthz answers with worker loads', async () => {
    const body = (await (await fetch(`${t.url}/healthz`)).json()) as { status: string; workers: unknown[] };
    expect(body.status).toBe('ok');
    expect(body.workers).toHaveLength(2);
  });
});
