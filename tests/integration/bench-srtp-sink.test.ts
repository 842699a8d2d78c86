import dgram from 'node:dgram';
import type { types } from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SINK_KINDS, ToolError } from '../bench/cli.ts';
import { RtpSink, sinkClock } from '../bench/rtp-sink.ts';
import { rtpPayload } from '../bench/rtp-payload.ts';
import { SRTP_SUITES, SrtpError, type SrtpSuite, decryptSrtp, deriveSessionKeys, randomSrtpKey } from '../bench/srtp.ts';
import { createReceiverTransport, sendingKey } from '../bench/synthetic-receivers.ts';
import { isVp8KeyframeStart } from '../bench/vp8-keyframe.ts';
import { type TestServer, startTestServer } from '../helpers/server.ts';

/**
 * The benchmarks' RTP sink in its own process (counting in the native core or in Node), fed by a real
 * mediasoup worker: a plain-RTP producer gets hand-made VP8 packets from a UDP socket here, and
 * consumers on SRTP (and plain) PlainTransports send them on to the sink, or to a socket here that
 * keeps the packets as they were on the wire.
 */

const VIDEO_SSRC = 0x0bad_cafe;
const VIDEO_PT = 101;
/** After the payload descriptor: a keyframe's first bytes, then text that must not be visible on the wire. */
const SECRET = Buffer.from('roundtable keyframe payload, readable only after decryption');
const KEYFRAME_BODY = Buffer.concat([Buffer.from([0x50, 0x1f, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]), SECRET]);
const INTER_BODY = Buffer.concat([Buffer.from([0x51, 0x05, 0x00]), Buffer.alloc(60, 0x42)]);
const INTER_FRAMES = 40;
const SUITES: readonly (SrtpSuite | 'none')[] = [...SRTP_SUITES, 'none'];

/** One VP8 frame in one RTP packet: descriptor with a 15-bit PictureID, as ffmpeg sends (RFC 7741). */
function vp8Packet(seq: number, pictureId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = VIDEO_PT;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE((seq * 3000) >>> 0, 4);
  header.writeUInt32BE(VIDEO_SSRC, 8);
  const descriptor = Buffer.from([0x90, 0x80, 0x80 | ((pictureId >> 8) & 0x7f), pictureId & 0xff]);
  return Buffer.concat([header, descriptor, body]);
}

async function bindSocket(socket: dgram.Socket): Promise<number> {
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket.address().port;
}

const ssrcOf = (consumer: types.Consumer): number => consumer.rtpParameters.encodings![0]!.ssrc!;

let t: TestServer;
let router: types.Router;
let producer: types.Producer;
let feeder: dgram.Socket;
let producerPort: number;
let capture: dgram.Socket;
let capturePort: number;
const captured: Buffer[] = [];
/** Each round of the feed starts its sequence numbers here and moves it on: the producer only goes forward. */
let nextSeq = 1000;

beforeAll(async () => {
  t = await startTestServer();
  const room = await t.server.registry.getOrCreate('bench-srtp-sink', 'meeting');
  router = room.routers.main;
  const ingress = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
  producer = await ingress.produce({
    kind: 'video',
    rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: VIDEO_PT, clockRate: 90_000 }], encodings: [{ ssrc: VIDEO_SSRC }] },
  });
  producerPort = ingress.tuple.localPort;
  feeder = dgram.createSocket('udp4');
  await bindSocket(feeder);
  capture = dgram.createSocket('udp4');
  capture.on('message', (packet) => captured.push(packet));
  capturePort = await bindSocket(capture);
});

afterAll(async () => {
  feeder?.close();
  capture?.close();
  await t?.close();
});

interface Receiver {
  suite: SrtpSuite | 'none';
  transport: types.PlainTransport;
  consumer: types.Consumer;
  ssrc: number;
}

async function receiver(suite: SrtpSuite | 'none', port: number): Promise<Receiver> {
  const transport = await createReceiverTransport(router, port, suite === 'none' ? undefined : suite);
  const consumer = await transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities, paused: true });
  return { suite, transport, consumer, ssrc: ssrcOf(consumer) };
}

/** An RTP packet made here, sent straight to the sink. */
function rtp(ssrc: number, seq: number, payloadType = 111, payloadBytes = 20): Buffer {
  const packet = Buffer.alloc(12 + payloadBytes);
  packet[0] = 0x80;
  packet[1] = payloadType;
  packet.writeUInt16BE(seq & 0xffff, 2);
  packet.writeUInt32BE(ssrc >>> 0, 8);
  return packet;
}

describe.each(SINK_KINDS)('the benchmarks’ RTP sink (%s) with SRTP receivers', (kind) => {
  const sinkErrors: Error[] = [];
  let sink: RtpSink;
  const toSink: Receiver[] = [];
  const toCapture: Receiver[] = [];
  const firstKeyframeAt = new Map<number, number>();
  let sentAt = 0;

  afterAll(async () => {
    for (const { transport } of [...toSink, ...toCapture]) transport.close();
    await sink?.close();
  });

  beforeAll(async () => {
    sink = await RtpSink.open(2, 1024 * 1024, (error) => sinkErrors.push(error), kind);
    for (const suite of SUITES) {
      const viaSink = await receiver(suite, sink.portFor(toSink.length));
      sink.watch(viaSink.ssrc, 'video', sendingKey(viaSink.transport));
      sink.watchFirst(viaSink.ssrc, 'vp8-keyframe', (at) => firstKeyframeAt.set(viaSink.ssrc, at));
      toSink.push(viaSink);
      toCapture.push(await receiver(suite, capturePort));
    }
    await sink.synced();
    for (const { consumer } of [...toSink, ...toCapture]) await consumer.resume();

    const firstSeq = nextSeq;
    nextSeq += INTER_FRAMES + 100;
    sentAt = sinkClock();
    feeder.send(vp8Packet(firstSeq, 300, KEYFRAME_BODY), producerPort, '127.0.0.1');
    for (let frame = 1; frame <= INTER_FRAMES; frame++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      feeder.send(vp8Packet(firstSeq + frame, 300 + frame, INTER_BODY), producerPort, '127.0.0.1');
    }
    await vi.waitFor(async () => expect((await sink.totals()).packets).toBe(SUITES.length * (INTER_FRAMES + 1)), { timeout: 5_000 });
    const ownSsrcs = new Set(toCapture.map((r) => r.ssrc));
    await vi.waitFor(
      () => expect(captured.filter((packet) => ownSsrcs.has(packet.readUInt32BE(8))).length).toBe(SUITES.length * (INTER_FRAMES + 1)),
      { timeout: 5_000 },
    );
  });

  it(`runs as ${kind === 'native' ? 'a Node relay and the native core' : 'one Node process'}`, () => {
    expect(sink.kind).toBe(kind);
    expect(sink.pids).toHaveLength(kind === 'native' ? 2 : 1);
    expect(sink.pids[0]).toBe(sink.pid);
    expect(sink.pids).not.toContain(process.pid);
  });

  it('counts every consumer’s packets, with no loss and SRTP tags in the bytes', async () => {
    const totals = await sink.totals();
    expect(sinkErrors).toEqual([]);
    expect(totals.streams).toBe(SUITES.length);
    expect(totals.expected).toBe(totals.packets);
    expect(totals.byKind.video).toMatchObject({ packets: totals.packets, expected: totals.packets, streams: SUITES.length });
    expect(sink.kernelDrops()).toBe(0);
    expect(sink.pid).not.toBe(process.pid);
  });

  it('finds each consumer’s first keyframe, decrypting SRTP, at a time comparable with this process', async () => {
    await expect.poll(() => firstKeyframeAt.size).toBe(SUITES.length);
    const now = sinkClock();
    for (const { ssrc } of toSink) {
      const at = firstKeyframeAt.get(ssrc)!;
      // Clocks of two processes: allow a little for how each fixed its time origin.
      expect(at).toBeGreaterThan(sentAt - 5);
      expect(at).toBeLessThan(now + 5);
    }
    expect(sinkErrors).toEqual([]);
  });

  it.each(SRTP_SUITES)('%s: the wire carries ciphertext that only mediasoup’s key opens', (suite) => {
    const { transport, ssrc } = toCapture.find((r) => r.suite === suite)!;
    const packets = captured.filter((packet) => packet.length >= 12 && packet.readUInt32BE(8) === ssrc);
    expect(packets.length).toBe(INTER_FRAMES + 1);
    const wire = packets[0]!;
    expect(wire.includes(SECRET)).toBe(false);

    const key = sendingKey(transport)!;
    expect(key.cryptoSuite).toBe(suite);
    const keys = deriveSessionKeys(key);
    const plain = decryptSrtp(keys, wire, 0);
    expect(isVp8KeyframeStart(plain)).toBe(true);
    expect(rtpPayload(plain)!.subarray(-KEYFRAME_BODY.length)).toEqual(KEYFRAME_BODY);
    for (const packet of packets.slice(1)) {
      const payload = rtpPayload(decryptSrtp(keys, packet, 0))!;
      expect(payload.subarray(-INTER_BODY.length)).toEqual(INTER_BODY);
    }

    expect(() => decryptSrtp(deriveSessionKeys(randomSrtpKey(suite)), wire, 0)).toThrow(SrtpError);
    expect(() => decryptSrtp(keys, wire, 1)).toThrow(SrtpError); // the wrong rollover counter
    const damaged = Buffer.from(wire);
    damaged[damaged.length - 20]! ^= 0x01;
    expect(() => decryptSrtp(keys, damaged, 0)).toThrow(SrtpError);
  });

  it('with plain RTP the wire carries the payload as sent', () => {
    const { ssrc } = toCapture.find((r) => r.suite === 'none')!;
    const wire = captured.find((packet) => packet.length >= 12 && packet.readUInt32BE(8) === ssrc)!;
    expect(wire.includes(SECRET)).toBe(true);
  });

  it('extends sequence numbers across a wrap, finds gaps, and counts RTCP and unknown SSRCs apart', async () => {
    const ssrc = 0x7000_0000 + SINK_KINDS.indexOf(kind);
    sink.watch(ssrc, 'direct');
    await sink.synced();
    const before = await sink.totals();
    const socket = dgram.createSocket('udp4');
    await bindSocket(socket);
    // 65532 and 2 lost; 65534 arrives late, after the wrap; 10 sent from 65530 to 3 (65539).
    const seqs = [65_530, 65_531, 65_533, 65_535, 0, 1, 65_534, 3];
    try {
      const packets = [
        ...seqs.map((seq) => rtp(ssrc, seq)),
        rtp(0x7100_0000, 5), // no consumer announced this SSRC: a probe
        rtp(ssrc, 4, 200 & 0x7f), // RTCP (a sender report's packet type, 200) in the RTP header's place
        Buffer.from([0x80, 111, 0, 1]), // too short for RTP: ignored
      ];
      for (const packet of packets) {
        await new Promise<void>((resolve, reject) => socket.send(packet, sink.portFor(1), '127.0.0.1', (error) => (error ? reject(error) : resolve())));
      }
      await vi.waitFor(async () => expect((await sink.totals()).byKind.direct?.packets).toBe(seqs.length), { timeout: 5_000 });
    } finally {
      socket.close();
    }
    const after = await sink.totals();
    expect(after.byKind.direct).toEqual({ packets: seqs.length, bytes: seqs.length * 32, expected: 10, streams: 1 });
    expect(after.packets - before.packets).toBe(seqs.length);
    expect(after.expected - before.expected).toBe(10);
    expect(after.streams - before.streams).toBe(1);
    expect(after.otherRtp - before.otherRtp).toBeGreaterThanOrEqual(1);
    expect(after.rtcp - before.rtcp).toBeGreaterThanOrEqual(1);
    expect(sinkErrors).toEqual([]);
  });
});

describe('srtp.ts', () => {
  it('derives session keys as RFC 3711 (appendix B.3) does', () => {
    const master = Buffer.from('E1F97A0D3E018BE0D64FA32C06DE4139' + '0EC675AD498AFEEBB6960B3AABE6', 'hex');
    const keys = deriveSessionKeys({ cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: master.toString('base64') });
    expect(keys.cipherKey.toString('hex')).toBe('c61e7a93744f39ee10734afe3ff7a087');
    expect(keys.salt.toString('hex')).toBe('30cbbc08863d8c85d49db34a9ae1');
    expect(keys.authKey.toString('hex')).toBe('cebe321f6ff7716b6fd4ab49af256a156d38baa4');
  });

  it('refuses a key of the wrong length for its suite', () => {
    expect(() => deriveSessionKeys({ cryptoSuite: 'AEAD_AES_256_GCM', keyBase64: randomSrtpKey('AEAD_AES_128_GCM').keyBase64 })).toThrow(
      /needs 44 bytes/,
    );
  });
});

describe.each(SINK_KINDS)('a %s sink process that dies', (kind) => {
  it('fails the run with a ToolError, and fails requests still waiting', async () => {
    const errors: Error[] = [];
    const doomed = await RtpSink.open(1, 65_536, (error) => errors.push(error), kind);
    try {
      // The process that counts: the native core, or the Node child.
      const counting = doomed.pids.at(-1)!;
      process.kill(counting, 'SIGKILL');
      await expect.poll(() => errors.length).toBe(1);
      expect(errors[0]).toBeInstanceOf(ToolError);
      expect(errors[0]!.message).toMatch(new RegExp(`RTP sink process \\(pid ${counting}\\) exited \\(SIGKILL\\)`));
      await expect(doomed.totals()).rejects.toThrow(ToolError);
    } finally {
      await doomed.close();
    }
  });
});
