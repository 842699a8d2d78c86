/**
 * File sharing between real browsers through the SFU: each file goes up once over the sender's data
 * channel and down to each receiver over its own. The server runs in this process, its page and
 * signaling on 127.0.0.1, its media on the host's end of a test namespace's veth: a non-loopback
 * address, so Firefox connects too, and a link a browser inside the namespace reaches only through
 * that veth, where its download can be limited with tbf without slowing anyone else.
 * Nobody publishes a camera or a microphone here: the pages only move files.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { launchChromium, launchFirefox } from '../helpers/firefox.ts';
import { type TcpForwarder, forwardToLoopback, launchChromiumInNetns } from '../helpers/netns-browser.ts';
import { type Netns, createNetns } from '../helpers/netns.ts';
import type { TestServer } from '../helpers/server.ts';
import { expect, startAppServer, test } from './fixtures.ts';

const MB = 1024 * 1024;
/** The throttled receiver's downlink: 5 MB take about 10 s through it. */
const SLOW_LINK_KBIT = 4_000;

let ns: Netns | undefined;
let sfu: TestServer | undefined;
let nsEntry: TcpForwarder | undefined;
let chromium: Browser | undefined;
let firefox: Browser | undefined;
let nsChromium: Browser | undefined;
let roomCount = 0;

test.beforeAll(async () => {
  ns = await createNetns();
  sfu = await startAppServer({ rtc: { listenIp: ns.hostIp, basePort: 0 }, files: { maxFileBytes: 8 * MB } });
  nsEntry = await forwardToLoopback(ns.hostIp, Number(new URL(sfu.url).port));
  [chromium, firefox, nsChromium] = await Promise.all([launchChromium(), launchFirefox(), launchChromiumInNetns(ns, [nsEntry.url])]);
});

test.afterAll(async () => {
  // Browsers first: the namespace cannot go while its Chromium runs in it.
  for (const step of [() => nsChromium?.close(), () => chromium?.close(), () => firefox?.close(), () => nsEntry?.close(), () => sfu?.close(), () => ns?.close()]) {
    try {
      await step();
    } catch (error) {
      console.error('file-sharing teardown step failed:', error);
    }
  }
});

test.afterEach(async () => {
  for (const browser of [chromium, firefox, nsChromium]) for (const context of browser?.contexts() ?? []) await context.close();
  await ns?.clearRate();
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function newContext(browser: Browser | undefined): Promise<BrowserContext> {
  if (!browser) throw new Error('browser not started');
  return browser.newContext();
}

/** Joins without camera or microphone; `baseUrl` is where this browser reaches the app. */
async function join(context: BrowserContext, roomId: string, name: string, baseUrl = sfu!.url): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[${name}] page error:`, error.message));
  await page.goto(`${baseUrl}/room/${roomId}?name=${encodeURIComponent(name)}&join=1&camera=0&mic=0`);
  await expect(page.getByTestId('call')).toHaveAttribute('data-status', 'joined');
  await page.getByTestId('chat-button').click();
  return page;
}

type FileView = ReturnType<NonNullable<Window['roundtable']>['files']>[number];

async function fileOn(page: Page, name: string): Promise<FileView | undefined> {
  return page.evaluate((name) => window.roundtable?.files().find((file) => file.name === name), name);
}

/** Waits until the page's own transfer of the file is done (received and checked, or uploaded); fails at once if it failed. */
async function doneOn(page: Page, name: string, timeout = 60_000): Promise<FileView> {
  await expect.poll(async () => (await fileOn(page, name))?.transfer, { timeout, intervals: [100] }).toMatch(/^(done|failed)$/);
  const view = (await fileOn(page, name))!;
  expect(view.transfer, `${name}: ${view.error}`).toBe('done');
  return view;
}

/** What the page's Save link holds, hashed in the page itself. */
async function savedInPage(page: Page, fileId: string): Promise<{ sha256: string; size: number; type: string; download: string }> {
  const link = page.locator(`[data-testid=file-message][data-file-id="${fileId}"] [data-testid=file-save]`);
  await expect(link).toBeVisible();
  return link.evaluate(async (anchor: HTMLAnchorElement) => {
    const blob = await (await fetch(anchor.href)).blob();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
    const hex = Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
    return { sha256: hex, size: blob.size, type: blob.type, download: anchor.download };
  });
}

async function share(page: Page, name: string, content: Buffer, mimeType = 'application/octet-stream'): Promise<void> {
  await page.getByTestId('file-input').setInputFiles({ name, mimeType, buffer: content });
}

test('a 5 MB file reaches two receivers (Chromium, Firefox) with its SHA-256; a late joiner downloads it too', async () => {
  const roomId = `e2e-files-${++roomCount}`;
  const ada = await join(await newContext(chromium), roomId, 'Ada');
  const ben = await join(await newContext(chromium), roomId, 'Ben');
  const fox = await join(await newContext(firefox), roomId, 'Fox');
  const content = randomBytes(5 * MB);
  const expected = sha256(content);

  // The sender's browser calls it an HTML page: nobody's browser must treat it as one.
  await share(ada, 'quarterly numbers.html', content, 'text/html');
  const sent = await doneOn(ada, 'quarterly numbers.html');
  expect(sent).toMatchObject({ mine: true, size: content.length, sha256: expected, state: 'available' });
  for (const page of [ben, fox]) {
    const received = await doneOn(page, 'quarterly numbers.html');
    expect(received).toMatchObject({ mine: false, displayName: 'Ada', size: content.length, bytes: content.length, saved: true });
    const saved = await savedInPage(page, received.id);
    expect(saved).toEqual({ sha256: expected, size: content.length, type: 'application/octet-stream', download: 'quarterly numbers.html' });
    const message = page.locator(`[data-testid=file-message][data-file-id="${received.id}"]`);
    await expect(message.getByTestId('file-name')).toHaveText('quarterly numbers.html');
    await expect(message.getByTestId('file-size')).toHaveText('5 MiB');
    await expect(message).toContainText('Ada');
  }

  // Over the limit: refused before a byte is sent, in words.
  await share(ada, 'too big.bin', Buffer.alloc(9 * MB));
  await expect(ada.getByTestId('file-notice')).toHaveText(/Could not share "too big.bin": "too big.bin" is 9 MiB; files of at most 8 MiB can be shared here\./);

  // A fourth person comes later: the file is offered, and fetched when asked for.
  const dee = await join(await newContext(chromium), roomId, 'Dee');
  const offered = dee.locator(`[data-testid=file-message][data-file-id="${sent.id}"]`);
  await expect(offered.getByTestId('file-status')).toHaveText('Available');
  await offered.getByTestId('file-download').click();
  expect((await doneOn(dee, 'quarterly numbers.html')).sha256).toBe(expected);
  expect((await savedInPage(dee, sent.id)).sha256).toBe(expected);
  // Saving goes to disk as a download (never shown in the page), and the bytes are the original's.
  const [download] = await Promise.all([dee.waitForEvent('download'), offered.getByTestId('file-save').click()]);
  expect(download.suggestedFilename()).toBe('quarterly numbers.html');
  expect(sha256(await readFile((await download.path())!))).toBe(expected);
  expect(dee.url()).toContain(`/room/${roomId}`);
});

/**
 * One receiver's downlink is limited to SLOW_LINK_KBIT with tbf (it runs in the namespace); the other
 * is on the host. Why this fails without per-receiver pacing on the server:
 * - with mediasoup's own fan-out (one DataProducer to every receiver's DataConsumer), or any sending
 *   that does not wait for each receiver's SCTP buffer, the slow receiver's send buffer fills within a
 *   second and mediasoup drops the messages that do not fit: its file never completes with the right
 *   hash (the last assertions fail);
 * - with pacing shared by all receivers (send the next chunk when every buffer has room), the fast
 *   receiver is held to the slow one's rate: it finishes about when the slow one does, far outside the
 *   margin over its unthrottled time.
 * The fast receiver's unthrottled time is measured first, in the same room, with the same browsers
 * and their channels already open.
 */
test('a throttled receiver gets the file later; the others do not wait for it', async () => {
  test.setTimeout(240_000);
  const roomId = `e2e-files-${++roomCount}`;
  const ada = await join(await newContext(chromium), roomId, 'Ada');
  const fast = await join(await newContext(chromium), roomId, 'Fast');
  const slow = await join(await newContext(nsChromium), roomId, 'Slow', nsEntry!.url);

  /** Seconds from the upload's start to each one's completion. */
  async function transfer(name: string, content: Buffer) {
    await share(ada, name, content);
    const sender = await doneOn(ada, name);
    const [fastView, slowView] = [await doneOn(fast, name), await doneOn(slow, name, 120_000)];
    const since = (view: FileView) => (view.completedAt! - sender.startedAt!) / 1000;
    for (const [page, view] of [[fast, fastView], [slow, slowView]] as const) {
      expect((await savedInPage(page, view.id)).sha256, `${name} at ${await page.evaluate(() => window.roundtable?.peerId())}`).toBe(sha256(content));
    }
    return { upload: since(sender), fast: since(fastView), slow: since(slowView) };
  }

  // A small file first, so that every data channel is open before anything is timed.
  await transfer('warm-up.bin', randomBytes(64 * 1024));
  const unthrottled = await transfer('baseline.bin', randomBytes(5 * MB));
  await ns!.limitRate('fromHost', SLOW_LINK_KBIT);
  const throttled = await transfer('throttled.bin', randomBytes(5 * MB));
  console.log(
    `file sharing, 5 MB to two receivers, one limited to ${SLOW_LINK_KBIT} kbit/s (seconds from the start of the upload):\n` +
      `  unthrottled: upload ${unthrottled.upload.toFixed(2)}, fast receiver ${unthrottled.fast.toFixed(2)}, other receiver ${unthrottled.slow.toFixed(2)}\n` +
      `  throttled:   upload ${throttled.upload.toFixed(2)}, fast receiver ${throttled.fast.toFixed(2)}, slow receiver ${throttled.slow.toFixed(2)}`,
  );

  // The fast receiver streams behind the upload and is done within a small margin of its own
  // unthrottled time, and of the upload's end...
  expect(throttled.fast).toBeLessThan(Math.max(unthrottled.fast * 1.5, unthrottled.fast + 2));
  expect(throttled.fast).toBeLessThan(throttled.upload + 2);
  // ...while the slow one really was slow: its link allows 5 MB in no less than ~10 s.
  const slowLinkSeconds = (5 * MB * 8) / (SLOW_LINK_KBIT * 1000);
  expect(throttled.slow).toBeGreaterThan(slowLinkSeconds * 0.8);
  expect(throttled.slow).toBeGreaterThan(throttled.fast * 2);
});

/**
 * Chunks that never arrive: the server's sends to one receiver are dropped on the way (the test
 * wraps that receiver's download DataProducer in the server, which runs in this process) until the
 * whole file has gone once. Nothing more comes, so no gap is ever seen; the receiver must notice that
 * nothing arrives and fetch again from where it stopped. Without that it waits forever (seen once in
 * CI, cause unknown: a Chromium receiver got nothing of a file for a minute).
 */
test('a receiver whose chunks never arrive fetches the file again and gets it whole', async () => {
  const roomId = `e2e-files-${++roomCount}`;
  const ada = await join(await newContext(chromium), roomId, 'Ada');
  const ben = await join(await newContext(chromium), roomId, 'Ben');
  const benId = await ben.evaluate(() => window.roundtable?.peerId());
  const content = randomBytes(1 * MB);
  const chunks = Math.ceil(content.length / (16 * 1024));
  let dropped = 0;
  // The room's file transports are made on first use, after this: each new DataProducer is seen.
  const room = sfu!.server.registry.get(roomId)!;
  for (const router of [room.routers.main]) {
    router.observer.on('newtransport', (transport) =>
      transport.observer.on('newdataproducer', (producer) => {
        const appData = producer.appData as { peerId?: string; files?: string };
        if (appData.peerId !== benId || appData.files !== 'download') return;
        const send = producer.send.bind(producer);
        producer.send = ((...args: Parameters<typeof send>) => {
          if (dropped < chunks) return void (dropped += 1);
          return send(...args);
        }) as typeof producer.send;
      }),
    );
  }
  const started = Date.now();
  await share(ada, 'lost on the way.bin', content);
  const received = await doneOn(ben, 'lost on the way.bin', 40_000);
  const seconds = (Date.now() - started) / 1000;
  console.log(`file sharing: ${dropped} chunks dropped; the receiver fetched again and had the file after ${seconds.toFixed(1)} s`);
  expect(dropped).toBe(chunks);
  expect((await savedInPage(ben, received.id)).sha256).toBe(sha256(content));
});
