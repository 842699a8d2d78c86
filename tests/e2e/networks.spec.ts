/**
 * Reach: the server runs in its own network namespace behind a veth pair, so browsers on this machine
 * reach its media at a real, non-loopback address (and Firefox, which ignores loopback candidates,
 * takes part). Signaling goes through a forwarder on 127.0.0.1, as it would through a proxy.
 */
import { randomUUID } from 'node:crypto';
import { type Browser, type BrowserContext, type Page, test } from '@playwright/test';
import { launchChromium, launchFirefox } from '../helpers/firefox.ts';
import { recordPeerConnections, selectedPairs } from '../helpers/ice.ts';
import { type Netns, createNetns } from '../helpers/netns.ts';
import { type NetnsServer, startServerInNetns } from '../helpers/netns-server.ts';
import { expect, inboundSummary, joinByUrl } from './fixtures.ts';

test.describe.configure({ mode: 'serial', timeout: 150_000 });

let ns: Netns;
let server: NetnsServer;
let chromium: Browser;
let firefox: Browser;

test.beforeAll(async () => {
  ns = await createNetns();
  // No media settings at all: the defaults must find an address browsers accept.
  server = await startServerInNetns(ns, { ROUNDTABLE_WORKERS: '1' });
  [chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()]);
});

test.afterAll(async () => {
  const steps = [() => chromium?.close(), () => firefox?.close(), () => server?.stop(), () => ns?.close()];
  for (const step of steps) await step().catch((error: unknown) => console.error('teardown step failed:', error));
});

test.afterEach(async () => {
  await ns.allowUdp();
  for (const browser of [chromium, firefox]) for (const context of browser.contexts()) await context.close();
});

async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext(browser === chromium ? { permissions: ['camera', 'microphone'] } : {});
  await recordPeerConnections(context);
  return context;
}

/** Every page decodes video and receives audio from every other page, by its own getStats(). */
async function expectEveryoneDecodesEveryone(pages: Page[]): Promise<void> {
  for (const page of pages) {
    await expect
      .poll(async () => (await inboundSummary(page)).videoPeersDecoding, { timeout: 40_000, message: `${page.url()} decodes every camera` })
      .toBe(pages.length - 1);
    await expect
      .poll(async () => (await inboundSummary(page)).audioPeersReceiving, { timeout: 10_000, message: `${page.url()} hears everyone` })
      .toBe(pages.length - 1);
  }
}

test('on the default configuration, Firefox and two Chromium peers meet and decode each other', async () => {
  const mediaLine = server.logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('media on'));
  expect(mediaLine?.msg).toContain(`media on ${ns.nsIp} (detected; bound to 0.0.0.0), UDP and TCP, one port per worker`);

  const room = randomUUID().slice(0, 8);
  const pages = [
    await joinByUrl(await newContext(firefox), server.url, room, 'Firefox', { res: 180 }),
    await joinByUrl(await newContext(chromium), server.url, room, 'Chromium 1', { res: 180 }),
    await joinByUrl(await newContext(chromium), server.url, room, 'Chromium 2', { res: 180 }),
  ];
  await expectEveryoneDecodesEveryone(pages);
  for (const page of pages) {
    for (const pair of await selectedPairs(page)) expect(pair).toMatchObject({ protocol: 'udp', remoteAddress: ns.nsIp });
  }
});

test('with UDP blocked, the pre-join check says so, and Chromium and Firefox still meet over ICE-TCP', async () => {
  await ns.blockUdp();
  const room = randomUUID().slice(0, 8);
  const prejoin = await (await newContext(chromium)).newPage();
  await prejoin.goto(`${server.url}/room/${room}`);
  const check = prejoin.getByTestId('network-check');
  await expect(check).toHaveAttribute('data-state', 'done', { timeout: 20_000 });
  await expect(check).toHaveAttribute('data-udp', 'blocked');
  await expect(check).toHaveAttribute('data-tcp', 'ok');
  await expect(check).toHaveAttribute('data-expected', 'tcp');
  await expect(prejoin.getByTestId('network-summary')).toHaveText('Your network blocks UDP. The call will use TCP, which can add delay.');

  await prejoin.locator('#display-name').fill('Chromium');
  await prejoin.getByTestId('join-button').click();
  await expect(prejoin.getByTestId('call')).toHaveAttribute('data-status', 'joined');
  const other = await joinByUrl(await newContext(firefox), server.url, room, 'Firefox', { res: 180 });
  await expectEveryoneDecodesEveryone([prejoin, other]);
  for (const page of [prejoin, other]) {
    const pairs = await selectedPairs(page);
    expect(pairs).toHaveLength(2);
    for (const pair of pairs) expect(pair).toMatchObject({ protocol: 'tcp', remoteAddress: ns.nsIp });
  }
});

test('when UDP is blocked mid-call, Chromium and Firefox move to ICE-TCP and media comes back', async () => {
  const room = randomUUID().slice(0, 8);
  const pages = [
    await joinByUrl(await newContext(chromium), server.url, room, 'Chromium', { res: 180 }),
    await joinByUrl(await newContext(firefox), server.url, room, 'Firefox', { res: 180 }),
  ];
  await expectEveryoneDecodesEveryone(pages);
  const frames = (page: Page) => page.evaluate(async () => {
    const stats = await window.roundtable?.stats();
    return (stats?.inbound ?? []).filter((s) => s.kind === 'video').reduce((n, s) => n + s.framesDecoded, 0);
  });
  await ns.blockUdp();
  const blockedAt = Date.now();
  for (const page of pages) {
    await expect
      .poll(async () => (await selectedPairs(page)).filter((pair) => pair.protocol === 'tcp').length, {
        timeout: 60_000,
        message: `${page.url()} moves both transports to TCP`,
      })
      .toBe(2);
    const before = await frames(page);
    await expect.poll(() => frames(page), { timeout: 20_000, message: `${page.url()} decodes again` }).toBeGreaterThan(before + 10);
    console.log(`${page.url().includes('Firefox') ? 'Firefox' : 'Chromium'}: video back over TCP ${((Date.now() - blockedAt) / 1000).toFixed(1)} s after UDP was blocked`);
  }
});

test('on an open network, the pre-join check reports a direct connection', async () => {
  const page = await (await newContext(firefox)).newPage();
  await page.goto(`${server.url}/room/${randomUUID().slice(0, 8)}`);
  const check = page.getByTestId('network-check');
  await expect(check).toHaveAttribute('data-state', 'done', { timeout: 20_000 });
  await expect(check).toHaveAttribute('data-udp', 'ok');
  await expect(check).toHaveAttribute('data-tcp', 'ok');
  await expect(check).toHaveAttribute('data-relay', 'not-offered');
  await expect(page.getByTestId('network-summary')).toContainText('direct connection');
});
