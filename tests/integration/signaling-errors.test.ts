import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ErrorCode, Reply } from '../../shared/index.ts';
import { TestClient } from '../helpers/client.ts';
import { type TestPeer, joinPeer } from '../helpers/meeting.ts';
import { DTLS_PARAMETERS, opusParameters, vp8SimulcastParameters } from '../helpers/rtp-fixtures.ts';
import { type TestServer, startTestServer, workerCounts } from '../helpers/server.ts';

let t: TestServer;
let roomId: string;
let alice: TestPeer; // publishes camera + mic, receives
let bob: TestPeer; // receives
let roomNumber = 0;

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});
beforeEach(async () => {
  roomId = `errors-${++roomNumber}`;
  alice = await joinPeer(t.url, roomId, 'Alice', { publish: true });
  bob = await joinPeer(t.url, roomId, 'Bob');
  await bob.client.waitFor('consumerAdded', (e) => e.consumer.kind === 'video');
  return () => {
    alice.client.close();
    bob.client.close();
  };
});

function expectError(reply: Reply<unknown>, code: ErrorCode): void {
  expect(reply).toMatchObject({ ok: false, error: { code } });
  if (!reply.ok) expect(reply.error.message.length).toBeGreaterThan(0);
}

/**
 * Runs a bad request and checks: the error code; nothing changed on the worker; and the room still
 * routes media: a newcomer's producer reaches Alice and Bob, and Alice's still reaches the newcomer.
 */
async function expectRefusedHarmlessly(code: ErrorCode, badRequest: () => Promise<Reply<unknown>>): Promise<void> {
  const before = await workerCounts(t.server);
  expectError(await badRequest(), code);
  expect(await workerCounts(t.server)).toEqual(before);
  expect(alice.client.socket.connected && bob.client.socket.connected).toBe(true);

  const dave = await joinPeer(t.url, roomId, 'Dave', { publish: true });
  await bob.client.waitFor('consumerAdded', (e) => e.consumer.peerId === dave.join.peerId && e.consumer.kind === 'video');
  await alice.client.waitFor('consumerAdded', (e) => e.consumer.peerId === dave.join.peerId && e.consumer.kind === 'audio');
  await dave.client.waitFor('consumerAdded', (e) => e.consumer.producerId === alice.producers.video);
  dave.client.close();
  await expect.poll(() => workerCounts(t.server)).toEqual(before);
}

describe('requests before joining', () => {
  const requests: Array<[string, unknown]> = [
    ['ready', { rtpCapabilities: {} }],
    ['createTransport', { direction: 'send' }],
    ['connectTransport', { transportId: 'x', dtlsParameters: DTLS_PARAMETERS }],
    ['produce', { transportId: 'x', kind: 'audio', source: 'microphone', rtpParameters: opusParameters() }],
    ['closeProducer', { producerId: 'x' }],
    ['consume', { producerId: 'x' }],
    ['resumeConsumer', { consumerId: 'x' }],
    ['leave', {}],
    // TURN credentials go to members of a room only.
    ['refreshIceServers', {}],
  ];
  it.each(requests)('%s is refused with NOT_JOINED', async (name, payload) => {
    const stranger = await TestClient.connect(t.url);
    await expectRefusedHarmlessly('NOT_JOINED', () => stranger.raw(name, payload));
    stranger.close();
  });
});

describe('ids that belong to another peer', () => {
  it('cannot connect another peer\'s transport', async () => {
    await expectRefusedHarmlessly('TRANSPORT_NOT_FOUND', () =>
      bob.client.send('connectTransport', { transportId: alice.sendTransportId!, dtlsParameters: DTLS_PARAMETERS }),
    );
  });

  it('cannot produce on another peer\'s transport', async () => {
    await expectRefusedHarmlessly('TRANSPORT_NOT_FOUND', () =>
      bob.client.send('produce', { transportId: alice.sendTransportId!, kind: 'audio', source: 'microphone', rtpParameters: opusParameters() }),
    );
  });

  it('cannot close another peer\'s producer', async () => {
    await expectRefusedHarmlessly('PRODUCER_NOT_FOUND', () => bob.client.send('closeProducer', { producerId: alice.producers.video! }));
    expect(t.server.registry.get(roomId)!.peers.get(alice.join.peerId)!.producers.has(alice.producers.video!)).toBe(true);
  });

  it('cannot resume another peer\'s consumer', async () => {
    const bobsConsumer = bob.client.consumersAdded()[0]!;
    await expectRefusedHarmlessly('CONSUMER_NOT_FOUND', () => alice.client.send('resumeConsumer', { consumerId: bobsConsumer.id }));
  });

  it('cannot consume a producer that does not exist', async () => {
    await expectRefusedHarmlessly('PRODUCER_NOT_FOUND', () => bob.client.send('consume', { producerId: 'no-such-producer' }));
  });
});

describe('consuming', () => {
  it('refuses to consume your own producer', async () => {
    await expectRefusedHarmlessly('CANNOT_CONSUME_OWN_PRODUCER', () => alice.client.send('consume', { producerId: alice.producers.audio! }));
  });

  it('refuses a second consumer of the same producer', async () => {
    await expectRefusedHarmlessly('ALREADY_CONSUMING', () => bob.client.send('consume', { producerId: alice.producers.video! }));
  });

  it('refuses ready before a receive transport exists', async () => {
    const carol = await joinPeer(t.url, roomId, 'Carol', { ready: false });
    await expectRefusedHarmlessly('NOT_READY', () => carol.client.send('ready', { rtpCapabilities: carol.join.routerRtpCapabilities }));
    carol.client.close();
  });

  it('refuses RTP capabilities with no codec in common', async () => {
    const carol = await joinPeer(t.url, roomId, 'Carol', { ready: false });
    await carol.client.ok('createTransport', { direction: 'recv' });
    await expectRefusedHarmlessly('INCOMPATIBLE_RTP_CAPABILITIES', () =>
      carol.client.send('ready', {
        rtpCapabilities: { codecs: [{ kind: 'video', mimeType: 'video/H265', clockRate: 90000, preferredPayloadType: 100 }] },
      }),
    );
    carol.client.close();
  });
});

describe('producing', () => {
  it('rejects structurally malformed RTP parameters at the schema', async () => {
    const bad = { ...opusParameters(), codecs: [{ mimeType: 'audio/opus', payloadType: 300, clockRate: 48000 }] };
    await expectRefusedHarmlessly('INVALID_PAYLOAD', () =>
      bob.client.send('produce', { transportId: alice.sendTransportId!, kind: 'audio', source: 'microphone', rtpParameters: bad }),
    );
    await expectRefusedHarmlessly('INVALID_PAYLOAD', () =>
      alice.client.send('produce', { transportId: alice.sendTransportId!, kind: 'audio', source: 'screen-audio', rtpParameters: { codecs: 'opus' } }),
    );
  });

  it('rejects RTP parameters the router cannot take (unsupported codec, dangling RTX)', async () => {
    const h265 = { ...vp8SimulcastParameters(), codecs: [{ mimeType: 'video/H265', payloadType: 100, clockRate: 90000 }] };
    await expectRefusedHarmlessly('INVALID_RTP_PARAMETERS', () =>
      alice.client.send('produce', { transportId: alice.sendTransportId!, kind: 'video', source: 'screen', rtpParameters: h265 }),
    );
    const danglingRtx = vp8SimulcastParameters();
    danglingRtx.codecs[1]!.parameters = { apt: 55 };
    await expectRefusedHarmlessly('INVALID_RTP_PARAMETERS', () =>
      alice.client.send('produce', { transportId: alice.sendTransportId!, kind: 'video', source: 'screen', rtpParameters: danglingRtx }),
    );
  });

  it('refuses to produce on a receive transport', async () => {
    await expectRefusedHarmlessly('WRONG_TRANSPORT_DIRECTION', () =>
      bob.client.send('produce', { transportId: bob.recvTransportId!, kind: 'audio', source: 'microphone', rtpParameters: opusParameters() }),
    );
  });

  it('refuses a source that cannot carry the kind, and a second producer for one source', async () => {
    await expectRefusedHarmlessly('INVALID_PAYLOAD', () =>
      alice.client.send('produce', { transportId: alice.sendTransportId!, kind: 'video', source: 'microphone', rtpParameters: vp8SimulcastParameters() }),
    );
    await expectRefusedHarmlessly('PRODUCER_LIMIT', () =>
      alice.client.send('produce', { transportId: alice.sendTransportId!, kind: 'video', source: 'camera', rtpParameters: vp8SimulcastParameters('2') }),
    );
  });
});

describe('transports', () => {
  it('allows one transport per direction', async () => {
    await expectRefusedHarmlessly('TRANSPORT_LIMIT', () => bob.client.send('createTransport', { direction: 'recv' }));
  });

  it('rejects malformed DTLS parameters and a second connect', async () => {
    await expectRefusedHarmlessly('INVALID_PAYLOAD', () =>
      bob.client.send('connectTransport', {
        transportId: bob.recvTransportId!,
        dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'not-hex' }] },
      }),
    );
    await bob.client.ok('connectTransport', { transportId: bob.recvTransportId!, dtlsParameters: DTLS_PARAMETERS });
    await expectRefusedHarmlessly('TRANSPORT_ALREADY_CONNECTED', () =>
      bob.client.send('connectTransport', { transportId: bob.recvTransportId!, dtlsParameters: DTLS_PARAMETERS }),
    );
  });
});

describe('malformed and hostile payloads', () => {
  it.each<[string, unknown]>([
    ['a number room id', { roomId: 42, displayName: 'X' }],
    ['a missing display name', { roomId: 'abc' }],
    ['an empty display name', { roomId: 'abc', displayName: '   ' }],
    ['control characters in the name', { roomId: 'abc', displayName: 'evil\u202Eeman' }],
    ['a room id with slashes', { roomId: '../etc', displayName: 'X' }],
    ['an unknown extra key', { roomId: 'abc', displayName: 'X', admin: true }],
    ['null', null],
    ['an array', ['abc', 'X']],
  ])('join with %s gets INVALID_PAYLOAD', async (_label, payload) => {
    const stranger = await TestClient.connect(t.url);
    await expectRefusedHarmlessly('INVALID_PAYLOAD', () => stranger.raw('join', payload));
    stranger.close();
  });

  it('answers a second join with ALREADY_JOINED', async () => {
    await expectRefusedHarmlessly('ALREADY_JOINED', () => bob.client.send('join', { roomId: 'elsewhere', displayName: 'Bob' }));
    expect(t.server.registry.get('elsewhere')).toBeUndefined();
  });

  it('answers an oversized payload with PAYLOAD_TOO_LARGE and keeps the socket', async () => {
    const huge = { transportId: alice.sendTransportId!, kind: 'audio', source: 'microphone', rtpParameters: { ...opusParameters(), mid: 'x'.repeat(100_000) } };
    await expectRefusedHarmlessly('PAYLOAD_TOO_LARGE', () => alice.client.send('produce', huge));
    expect(alice.client.socket.connected).toBe(true);
  });

  it('answers an unknown request with UNKNOWN_EVENT', async () => {
    await expectRefusedHarmlessly('UNKNOWN_EVENT', () => bob.client.raw('becomeAdmin', { please: true }));
  });

  it('ignores a request without an acknowledgement, without harm', async () => {
    const untyped = alice.client.socket as unknown as { emit(event: string, payload: unknown): void };
    untyped.emit('closeProducer', { producerId: alice.producers.video! });
    await expectRefusedHarmlessly('PRODUCER_NOT_FOUND', () => bob.client.send('closeProducer', { producerId: 'nope' }));
  });
});

describe('rate limiting', () => {
  it('refuses a flood with RATE_LIMITED and serves the connection again afterwards', async () => {
    const strict = await startTestServer({ signaling: { requestsPerSecond: 5, requestBurst: 10 } });
    try {
      const flooder = await TestClient.connect(strict.url);
      const replies = await Promise.all(Array.from({ length: 30 }, () => flooder.send('createTransport', { direction: 'send' })));
      const codes = replies.map((r) => (r.ok ? 'ok' : r.error.code));
      expect(codes.filter((c) => c === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(20);
      expect(codes.filter((c) => c === 'NOT_JOINED').length).toBe(10);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expectError(await flooder.send('createTransport', { direction: 'send' }), 'NOT_JOINED');
      flooder.close();
    } finally {
      await strict.close();
    }
  });
});
