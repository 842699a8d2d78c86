/**
 * A two-person meeting against a running Roundtable, for the container smoke test
 * (scripts/container/smoke-test.sh). Two Chromium pages join one room by URL; each must decode the
 * other's camera, as its own getStats() reports it. Prints one JSON line with the figures and exits 0
 * on success, 1 otherwise (then each page's full stats go to stderr).
 *
 *   node --import tsx scripts/container/smoke-meeting.ts http://127.0.0.1:3000
 */
import { type Browser, type Page, chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../playwright.config.ts';

const baseUrl = (process.argv[2] ?? 'http://127.0.0.1:3000').replace(/\/$/, '');
const timeoutMs = Number(process.env.SMOKE_TIMEOUT_MS ?? 45_000);
const roomId = `smoke-${Date.now().toString(36)}`;

interface PageFigures {
  name: string;
  joinedMs: number;
  firstFrameMs: number;
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  audioBytes: number;
  codec: string;
}

/** What one page decodes from the other peers' cameras, from its own RTCPeerConnection stats. */
async function received(page: Page) {
  return page.evaluate(async () => {
    const inbound = (await window.roundtable?.stats())?.inbound ?? [];
    const video = inbound.filter((s) => s.kind === 'video' && s.source === 'camera');
    const audio = inbound.filter((s) => s.kind === 'audio');
    return {
      framesDecoded: video.reduce((n, s) => n + s.framesDecoded, 0),
      frameWidth: Math.max(0, ...video.map((s) => s.frameWidth)),
      frameHeight: Math.max(0, ...video.map((s) => s.frameHeight)),
      audioBytes: audio.reduce((n, s) => n + s.bytesReceived, 0),
      codec: video.find((s) => s.codec)?.codec ?? '',
    };
  });
}

async function join(browser: Browser, name: string, started: number): Promise<{ page: Page; joinedMs: number }> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'], viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[${name}] page error: ${error.message}`));
  await page.goto(`${baseUrl}/room/${roomId}?name=${name}&join=1`);
  await page.locator('[data-testid=call][data-status=joined]').waitFor({ timeout: timeoutMs });
  return { page, joinedMs: Date.now() - started };
}

async function main(): Promise<number> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  try {
    const started = Date.now();
    const names = ['Ada', 'Grace'];
    // One after the other, as people usually arrive (and as the e2e tests join). SMOKE_JOIN=together
    // opens both pages at once.
    const people = process.env.SMOKE_JOIN === 'together'
      ? await Promise.all(names.map((name) => join(browser, name, started)))
      : [await join(browser, names[0]!, started), await join(browser, names[1]!, started)];
    const figures: PageFigures[] = await Promise.all(
      people.map(async ({ page, joinedMs }, i) => {
        let last = await received(page);
        while (!(last.framesDecoded > 0 && last.frameWidth > 0) && Date.now() - started < timeoutMs) {
          await page.waitForTimeout(200);
          last = await received(page);
        }
        return { name: names[i]!, joinedMs, firstFrameMs: Date.now() - started, ...last };
      }),
    );
    // Let video run for a few seconds, then read again: frames must keep coming, at a real size.
    await people[0]!.page.waitForTimeout(3000);
    for (const [i, { page }] of people.entries()) Object.assign(figures[i]!, await received(page));
    const ok = figures.every((f) => f.framesDecoded > 0 && f.frameWidth > 0);
    if (!ok) {
      // What each page has, for the log: every inbound and outbound stream, with its packet counts.
      for (const [i, { page }] of people.entries()) {
        const detail = await page.evaluate(async () => ({ status: window.roundtable?.status(), stats: await window.roundtable?.stats() }));
        console.error(`[${names[i]}] ${JSON.stringify(detail)}`);
      }
    }
    console.log(JSON.stringify({ ok, roomId, pages: figures }));
    return ok ? 0 : 1;
  } finally {
    await browser.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.log(JSON.stringify({ ok: false, error: error instanceof Error ? error.message : String(error) }));
    process.exit(1);
  },
);
