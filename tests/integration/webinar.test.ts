import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebinarKeys } from '../../shared/index.ts';
import { TestClient } from '../helpers/client.ts';
import { type TestPeer, joinPeer } from '../helpers/meeting.ts';
import { opusParameters } from '../helpers/rtp-fixtures.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

async function newWebinar(): Promise<WebinarKeys> {
  const creator = await TestClient.connect(t.url);
  const keys = await creator.ok('createWebinar', {});
  creator.close();
  return keys;
}

describe('webinar links and roles', () => {
  it('gives distinct unguessable keys; the host key makes a host, the audience key a viewer, anything else is refused', async () => {
    const keys = await newWebinar();
    expect(keys.hostKey).not.toBe(keys.audienceKey);
    expect(keys.hostKey.length).toBeGreaterThanOrEqual(24);
    expect(keys.roomId).toMatch(/^w-[a-z2-9]{16}$/);

    const host = await joinPeer(t.url, keys.roomId, 'Host', { key: keys.hostKey, publish: true });
    expect(host.join).toMatchObject({ kind: 'webinar', role: 'host', webinarKeys: keys });
    const viewer = await joinPeer(t.url, keys.roomId, 'Vera', { key: keys.audienceKey });
    expect(viewer.join).toMatchObject({ kind: 'webinar', role: 'viewer' });
    expect(viewer.join.webinarKeys).toBeUndefined();

    for (const key of [undefined, 'x'.repeat(24), keys.audienceKey.slice(0, -1) + (keys.audienceKey.endsWith('A') ? 'B' : 'A')]) {
      const stranger = await TestClient.connect(t.url);
      const reply = await stranger.send('join', { roomId: keys.roomId, displayName: 'Eve', ...(key ? { key } : {}) });
      expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_LINK' } });
      stranger.close();
    }
    // A webinar's key opens nothing else: not a meeting, where a key can only be that meeting's host link.
    const borrowed = await TestClient.connect(t.url);
    expect(await borrowed.send('join', { roomId: 'plain-meeting', displayName: 'Mo', key: keys.hostKey })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_LINK' },
    });
    borrowed.close();
    for (const p of [host, viewer]) p.client.close();
  });

  it('a viewer gets no send transport and cannot produce, even from a modified client', async () => {
    const keys = await newWebinar();
    const host = await joinPeer(t.url, keys.roomId, 'Host', { key: keys.hostKey, publish: true });
    const viewer = await joinPeer(t.url, keys.roomId, 'Vera', { key: keys.audienceKey });
    expect(await viewer.client.send('createTransport', { direction: 'send' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    // Producing on its receive transport is refused too.
    const produce = await viewer.client.send('produce', { transportId: viewer.recvTransportId!, kind: 'audio', source: 'microphone', rtpParameters: opusParameters() });
    expect(produce).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await viewer.client.send('inviteToStage', { peerId: viewer.join.peerId })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await viewer.client.send('moveToAudience', { peerId: host.join.peerId })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    // The viewer still receives the stage.
    await viewer.client.waitFor('consumerAdded', (e) => e.consumer.producerId === host.producers.video);
    for (const p of [host, viewer]) p.client.close();
  });
});

describe('the stage', () => {
  it('host invites a viewer with a raised hand; the viewer accepts, publishes, and every viewer receives them', async () => {
    const keys = await newWebinar();
    const host = await joinPeer(t.url, keys.roomId, 'Host', { key: keys.hostKey, publish: true });
    const vera = await joinPeer(t.url, keys.roomId, 'Vera', { key: keys.audienceKey });
    const walt = await joinPeer(t.url, keys.roomId, 'Walt', { key: keys.audienceKey });

    await vera.client.ok('setHandRaised', { raised: true });
    await host.client.waitFor('peerUpdated', (e) => e.peerId === vera.join.peerId && e.handRaisedAt !== null);
    expect(walt.client.events('peerUpdated')).toEqual([]); // viewers don't hear about each other's hands

    expect(await vera.client.send('answerStageInvite', { accept: true })).toMatchObject({ ok: false, error: { code: 'NOT_INVITED' } });
    await host.client.ok('inviteToStage', { peerId: vera.join.peerId });
    expect(await vera.client.waitFor('stageInvite')).toEqual({ byPeerId: host.join.peerId, byName: 'Host' });
    await vera.client.ok('answerStageInvite', { accept: true });
    await host.client.waitFor('stageInviteAnswered', (e) => e.peerId === vera.join.peerId && e.accepted);
    await vera.client.waitFor('roleChanged', (e) => e.peerId === vera.join.peerId && e.role === 'speaker');
    await host.client.waitFor('roleChanged', (e) => e.peerId === vera.join.peerId && e.role === 'speaker');
    expect((await walt.client.waitFor('peerJoined')).peer).toMatchObject({ id: vera.join.peerId, role: 'speaker' });
    // Going on stage answers the raised hand: it comes down for everyone.
    await host.client.waitFor('peerUpdated', (e) => e.peerId === vera.join.peerId && e.handRaisedAt === null);
    await walt.client.waitFor('peerUpdated', (e) => e.peerId === vera.join.peerId && e.handRaisedAt === null);

    const send = await vera.client.ok('createTransport', { direction: 'send' });
    const { producerId } = await vera.client.ok('produce', { transportId: send.id, kind: 'audio', source: 'microphone', rtpParameters: opusParameters('0', 4242) });
    await walt.client.waitFor('consumerAdded', (e) => e.consumer.producerId === producerId);
    await host.client.waitFor('consumerAdded', (e) => e.consumer.producerId === producerId);

    // Back to the audience: producers close for everyone, and viewers see her leave the stage.
    await host.client.ok('moveToAudience', { peerId: vera.join.peerId });
    await walt.client.waitFor('producerClosed', (e) => e.producerId === producerId);
    await walt.client.waitFor('peerLeft', (e) => e.peerId === vera.join.peerId);
    await vera.client.waitFor('roleChanged', (e) => e.role === 'viewer');
    const peer = t.server.registry.get(keys.roomId)!.peers.get(vera.join.peerId)!;
    expect(peer.producers.size).toBe(0);
    expect(peer.transportFor('send')).toBeUndefined();
    expect(await vera.client.send('createTransport', { direction: 'send' })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    for (const p of [host, vera, walt]) p.client.close();
  });
});

describe('audience scale', () => {
  it('viewer joins and leaves reach the stage, and other viewers only as a throttled count', async () => {
    const keys = await newWebinar();
    const host = await joinPeer(t.url, keys.roomId, 'Host', { key: keys.hostKey, publish: true });
    const first = await joinPeer(t.url, keys.roomId, 'First', { key: keys.audienceKey });
    const crowd: TestPeer[] = await Promise.all(
      Array.from({ length: 20 }, (_, i) => joinPeer(t.url, keys.roomId, `V${i}`, { key: keys.audienceKey })),
    );
    await host.client.waitFor('audienceCount', (e) => e.count === 21, 5_000);
    expect(host.client.events('peerJoined')).toHaveLength(21); // the host sees every viewer
    await first.client.waitFor('audienceCount', (e) => e.count === 21, 5_000);
    // The first viewer heard nothing per viewer: no joins, and only a few aggregated counts.
    expect(first.client.events('peerJoined')).toEqual([]);
    expect(first.client.events('audienceCount').length).toBeLessThanOrEqual(3);
    expect(first.join.peers.map((p) => p.role)).toEqual(['host']);

    for (const viewer of crowd) viewer.client.close();
    await first.client.waitFor('audienceCount', (e) => e.count === 1, 5_000);
    expect(first.client.events('peerLeft')).toEqual([]);
    await host.client.waitFor('peerLeft', (e) => e.peerId === crowd[0]!.join.peerId);
    for (const p of [host, first]) p.client.close();
  });

  it('viewers beyond a worker\'s budget land on another worker and still receive the speaker through one pipe', async () => {
    const big = await startTestServer({ workers: { count: 2, consumerBudget: 6 } });
    try {
      const creator = await TestClient.connect(big.url);
      const keys = await creator.ok('createWebinar', {});
      creator.close();
      const host = await joinPeer(big.url, keys.roomId, 'Host', { key: keys.hostKey, publish: true });
      const viewers: TestPeer[] = [];
      for (let i = 0; i < 8; i++) viewers.push(await joinPeer(big.url, keys.roomId, `V${i}`, { key: keys.audienceKey }));
      for (const viewer of viewers) await viewer.client.waitFor('consumerAdded', (e) => e.consumer.producerId === host.producers.video);
      const room = big.server.registry.get(keys.roomId)!;
      expect(room.routers.all()).toHaveLength(2);
      const workers = new Set(viewers.map((v) => room.peers.get(v.join.peerId)!.router.appData.workerIndex));
      expect(workers).toEqual(new Set([0, 1]));
      // One pipe transport per router pair: the second worker has the viewers' transports plus one pipe.
      const second = room.routers.all().find((r) => r !== room.routers.main)!;
      const dump = (await second.dump()) as { transportIds: string[] };
      const onSecond = viewers.filter((v) => room.peers.get(v.join.peerId)!.router === second).length;
      expect(dump.transportIds.length).toBe(onSecond + 1);
      for (const p of [host, ...viewers]) p.client.close();
    } finally {
      await big.close();
    }
  });
});
