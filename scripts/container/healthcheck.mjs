// The container's HEALTHCHECK: GET /healthz on the server's own HTTP(S) port. Exits 0 on a 200 answer,
// 1 otherwise (within 2.5 s). Reads the same HOST / PORT / ROUNDTABLE_TLS_CERT variables as the server.
import http from 'node:http';
import https from 'node:https';

const wildcard = ['', '0.0.0.0', '::', '[::]'];
const rawHost = process.env.HOST ?? '';
const host = wildcard.includes(rawHost) ? '127.0.0.1' : rawHost.replace(/^\[(.*)\]$/, '$1');
const port = Number(process.env.PORT || 3000);
const tls = Boolean(process.env.ROUNDTABLE_TLS_CERT);

// With TLS the certificate names the public host, not the address asked here: skip its check.
const request = (tls ? https : http).get(
  { host, port, path: '/healthz', timeout: 2500, ...(tls ? { rejectUnauthorized: false } : {}) },
  (response) => {
    response.resume();
    process.exit(response.statusCode === 200 ? 0 : 1);
  },
);
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', (error) => {
  console.error(`healthcheck: ${error.message}`);
  process.exit(1);
});
