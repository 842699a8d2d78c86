// A real ICE + DTLS handshake against the built mediasoup worker, without a browser: the worker's
// DTLS path is where mediasoup 3.13+ crashed on Debian's OpenSSL (scripts/mediasoup-worker/patches/).
// dtls-client.py plays the browser (DTLS client, the SRTP profiles browsers offer); this side waits
// for the WebRtcTransport's dtlsstatechange. Exit code 0 when DTLS reached "connected".
//   node scripts/worker-check/dtls-handshake.mjs      (MEDIASOUP_WORKER_BIN picks another worker)
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as mediasoup from 'mediasoup';

const TIMEOUT_MS = 15_000;

const worker = await mediasoup.createWorker({ logLevel: 'warn' });
let failure;
worker.on('died', (error) => {
  failure = `worker died: ${error.message}`;
});
const router = await worker.createRouter({
  mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }],
});
const transport = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
const [candidate] = transport.iceCandidates;

const client = spawn(
  '/usr/bin/python3',
  [fileURLToPath(new URL('dtls-client.py', import.meta.url)), candidate.address, String(candidate.port),
    transport.iceParameters.usernameFragment, transport.iceParameters.password],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const lines = createInterface({ input: client.stdout })[Symbol.asyncIterator]();
const fingerprint = (await lines.next()).value;

const dtlsState = new Promise((resolve) => {
  transport.on('dtlsstatechange', (state) => {
    if (state === 'connected' || state === 'failed' || state === 'closed') resolve(state);
  });
  worker.on('died', () => resolve('worker died'));
  setTimeout(() => resolve(`timeout (${transport.dtlsState})`), TIMEOUT_MS);
});
await transport.connect({ dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: fingerprint }] } });
client.stdin.write('go\n');

const state = await dtlsState;
const clientSays = (await Promise.race([lines.next(), new Promise((r) => setTimeout(() => r({}), 2_000))])).value;
console.log(`mediasoup ${mediasoup.version}, worker ${mediasoup.workerBin}`);
console.log(`ICE: ${transport.iceState}, DTLS (worker side): ${state}${failure ? `, ${failure}` : ''}`);
if (clientSays) console.log(`client: ${clientSays}`);
client.kill();
worker.close();
process.exit(state === 'connected' ? 0 : 1);
