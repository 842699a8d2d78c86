/**
 * TURN as operators deploy it: a real coturn with a shared secret (use-auth-secret), beside the server
 * in a network namespace. Relay-only browsers (`?relay=1`) must send all media through it, over UDP,
 * and over TLS when UDP is blocked; a credential past its TTL must be refused by coturn itself.
 */
import { randomUUID } from 'node:crypto';
import { type Browser, type Page, test } from '@playwright/test';
import { turnRestCredential } from '../../sfu/src/network/turn-credentials.ts';
import { type Coturn, startCoturn } from '../helpers/coturn.ts';
import { launchChromium } from '../helpers/firefox.ts';
import { recordPeerConnections, selectedPairs } from '../helpers/ice.ts';
import { type Netns, createNetns } from '../helpers/netns.ts';
import { type NetnsServer, startServerInNetns } from '../helpers/netns-server.ts';
import { expect, inboundSummary, joinByUrl } from './fixtures.ts';

test.describe.configure({ mode: 'serial', timeout: 120_000 });

let ns: Netns;
let coturn: Coturn;
let server: NetnsServer;
let browser: Browser;

test.beforeAll(async () => {
  ns = await createNetns();
  coturn = await startCoturn(ns);
  server = await startServerInNetns(ns, {
    ROUNDTABLE_WORKERS: '1',
    ROUNDTABLE_TURN_URLS: [coturn.urls.udp, coturn.urls.tls].join(','),
    ROUNDTABLE_TURN_SECRET: coturn.secret,
    ROUNDTABLE_TURN_TTL_SECONDS: '600',
  });
  // The test's coturn has a self-signed certificate; Chromium checks TURN/TLS certificates like HTTPS ones.
  browser = await launchChromium({ args: ['--ignore-certificate-errors'] });
});

test.afterAll(async () => {
  const steps = [() => browser?.close(), () => server?.stop(), () => coturn?.stop(), () => ns?.close()];
  for (const step of steps) await step().catch((error: unknown) => console.error('teardown step failed:', error));
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) console.log('--- coturn output ---\n' + coturn.output().slice(-4000));
});

/** Two relay-only pages meet; every path each page uses is a relay candidate of the given kind. */
async function meetThroughRelay(relayProtocol: 'udp' | 'tls'): Promise<void> {
  const room = randomUUID().slice(0, 8);
  const pages: Page[] = [];
  for (const name of ['Ada', 'Bea']) {
    const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
    await recordPeerConnections(context);
    pages.push(await joinByUrl(context, server.url, room, name, { res: 180, relay: true }));
  }
  for (const page of pages) {
    await expect.poll(async () => (await inboundSummary(page)).videoPeersDecoding, { timeout: 30_000 }).toBe(1);
    await expect.poll(async () => (await inboundSummary(page)).audioPeersReceiving, { timeout: 10_000 }).toBe(1);
    const pairs = await selectedPairs(page);
    expect(pairs).toHaveLength(2); // send and receive transports
    for (const pair of pairs) expect(pair).toMatchObject({ localType: 'relay', relayProtocol, remoteAddress: ns.nsIp });
  }
  for (const page of pages) await page.context().close();
}

test('relay-only browsers meet through coturn over UDP, with credentials the server handed out', async () => {
  // Both TURN URLs are handed out; with TURN/TLS unreachable the browsers must take TURN/UDP.
  const tlsRule = ['INPUT', '-i', ns.nsIf, '-p', 'tcp', '--dport', String(new URL(coturn.urls.tls.replace('turns:', 'http://')).port), '-j', 'DROP'];
  await ns.exec('iptables', ['-I', ...tlsRule]);
  try {
    await meetThroughRelay('udp');
  } finally {
    await ns.exec('iptables', ['-D', ...tlsRule]);
  }
});

test('relay-only browsers meet through coturn over TLS when UDP is blocked', async () => {
  await ns.blockUdp();
  try {
    await meetThroughRelay('tls');
  } finally {
    await ns.allowUdp();
  }
});

test('coturn refuses a credential past its TTL, and accepts a fresh one', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.url}/healthz`);
  /** Relay candidates a page gathers with this credential, and the TURN error codes it sees. */
  const gather = (credential: { username: string; credential: string }) =>
    page.evaluate(
      async ({ url, credential }) => {
        const pc = new RTCPeerConnection({ iceServers: [{ urls: url, ...credential }], iceTransportPolicy: 'relay' });
        const relays: string[] = [];
        const errors: number[] = [];
        pc.onicecandidateerror = (event) => errors.push((event as RTCPeerConnectionIceErrorEvent).errorCode);
        const done = new Promise<void>((resolve) => {
          pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
          setTimeout(resolve, 8_000);
        });
        pc.onicecandidate = (event) => event.candidate?.type === 'relay' && relays.push(event.candidate.candidate);
        pc.createDataChannel('probe');
        await pc.setLocalDescription(await pc.createOffer());
        await done;
        pc.close();
        return { relays: relays.length, errors };
      },
      { url: coturn.urls.udp, credential },
    );
  const expired = turnRestCredential(coturn.secret, 'late', -60);
  const fresh = turnRestCredential(coturn.secret, 'on-time', 60);
  const refused = await gather({ username: expired.username, credential: expired.credential });
  expect(refused.relays).toBe(0);
  expect(refused.errors).toContain(401);
  const accepted = await gather({ username: fresh.username, credential: fresh.credential });
  expect(accepted.relays).toBeGreaterThan(0);
  await context.close();
});
