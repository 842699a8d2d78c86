// SRTP through the built worker, in both directions of its libsrtp: plain RTP goes into one
// PlainTransport, the worker encrypts it out of a second (enableSrtp) into a third (enableSrtp), which
// decrypts it and feeds a producer. Packets counted on that producer prove that protect and unprotect
// agree, for each crypto suite mediasoup offers (our libsrtp is 2.5 behind a compat header).
//   node scripts/worker-check/srtp-roundtrip.mjs
import { createSocket } from 'node:dgram';
import * as mediasoup from 'mediasoup';

const SUITES = ['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];
const PACKETS = 200;
const SSRC = 1111;
let seq = 0;
// One socket for the whole run: the comedia source transport locks onto the first sender's port.
const socket = createSocket('udp4');

const worker = await mediasoup.createWorker({ logLevel: 'warn' });
const router = await worker.createRouter({
  mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }],
});
const listenInfo = { protocol: 'udp', ip: '127.0.0.1' };

// The plain RTP source.
const source = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: true });
const producer = await source.produce({
  kind: 'audio',
  rtpParameters: {
    codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
    encodings: [{ ssrc: SSRC }],
  },
});

let failed = false;
for (const suite of SUITES) {
  const out = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false, enableSrtp: true, srtpCryptoSuite: suite });
  const back = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false, enableSrtp: true, srtpCryptoSuite: suite });
  await out.connect({ ip: back.tuple.localAddress, port: back.tuple.localPort, srtpParameters: back.srtpParameters });
  await back.connect({ ip: out.tuple.localAddress, port: out.tuple.localPort, srtpParameters: out.srtpParameters });
  const consumer = await out.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
  const decrypted = await back.produce({ kind: 'audio', rtpParameters: consumer.rtpParameters });

  await sendRtp(source.tuple.localPort, PACKETS);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const [sent] = await consumer.getStats().then((stats) => stats.filter((s) => s.type === 'outbound-rtp'));
  const [received] = await decrypted.getStats();
  const ok = (received?.packetCount ?? 0) >= PACKETS * 0.9;
  failed ||= !ok;
  console.log(`${suite.padEnd(24)} encrypted ${sent?.packetCount ?? 0}, decrypted ${received?.packetCount ?? 0}: ${ok ? 'ok' : 'FAILED'}`);
  out.close();
  back.close();
}
socket.close();
worker.close();
process.exit(failed ? 1 : 0);

async function sendRtp(port, count) {
  for (let i = 0; i < count; i++, seq++) {
    const packet = Buffer.alloc(12 + 160, 0x5a);
    packet.writeUInt8(0x80, 0);
    packet.writeUInt8(100, 1);
    packet.writeUInt16BE(seq & 0xffff, 2);
    packet.writeUInt32BE(seq * 960, 4);
    packet.writeUInt32BE(SSRC, 8);
    await new Promise((resolve) => socket.send(packet, port, '127.0.0.1', resolve));
    if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
