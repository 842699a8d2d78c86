/**
 * A real coturn (Debian's `turnserver`) inside a test's network namespace, set up the way the README
 * tells operators to: TURN REST credentials (`use-auth-secret`), TURN over UDP and TCP, and TURN over
 * TLS with a certificate the test makes itself.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Netns } from './netns.ts';
import { stopChild } from './netns.ts';

const run = promisify(execFile);
const TURN_PORT = 3478;
const TLS_PORT = 5349;

export interface Coturn {
  secret: string;
  realm: string;
  /** turn: over UDP, turn: over TCP, turns: (TLS over TCP), all at the namespace's address. */
  urls: { udp: string; tcp: string; tls: string };
  /** Everything coturn printed; its refusals (401) are worth reading when a test fails. */
  output(): string;
  stop(): Promise<void>;
}

export async function startCoturn(ns: Netns): Promise<Coturn> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rt-coturn-'));
  const secret = randomBytes(24).toString('base64url');
  const realm = 'roundtable.test';
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${ns.nsIp}`,
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ]);
  const child = ns.spawn('turnserver', [
    '-n', '--no-cli', '--log-file=stdout', '--simple-log', '--verbose',
    `--listening-ip=${ns.nsIp}`, `--relay-ip=${ns.nsIp}`,
    `--listening-port=${TURN_PORT}`, `--tls-listening-port=${TLS_PORT}`,
    '--min-port=49152', '--max-port=49300',
    '--use-auth-secret', `--static-auth-secret=${secret}`, `--realm=${realm}`, '--fingerprint',
    `--cert=${path.join(dir, 'cert.pem')}`, `--pkey=${path.join(dir, 'key.pem')}`,
    '--no-dtls', '--no-multicast-peers',
    `--pidfile=${path.join(dir, 'turnserver.pid')}`, `--userdb=${path.join(dir, 'turndb')}`,
  ]);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async () => {
    await stopChild(child, 3_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilListening(ns, child);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- coturn output ---\n${output.slice(-3000)}`);
  }
  return {
    secret,
    realm,
    urls: {
      udp: `turn:${ns.nsIp}:${TURN_PORT}?transport=udp`,
      tcp: `turn:${ns.nsIp}:${TURN_PORT}?transport=tcp`,
      tls: `turns:${ns.nsIp}:${TLS_PORT}?transport=tcp`,
    },
    output: () => output,
    stop,
  };
}

async function waitUntilListening(ns: Netns, child: ReturnType<Netns['spawn']>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`coturn exited with code ${child.exitCode}`);
    const [udp, tcp] = await Promise.all([ns.sockets('udp'), ns.sockets('tcp')]);
    if (udp.includes(`${ns.nsIp}:${TURN_PORT}`) && tcp.includes(`${ns.nsIp}:${TLS_PORT}`)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('coturn did not start listening within 10 s');
}
