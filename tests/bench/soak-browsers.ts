/**
 * The real browsers of the soak run: a few Chromium pages (small fake cameras) that stay in one
 * meeting for the whole run, receiving the synthetic visitors and each other; one of them leaves and
 * joins again now and then, and must decode the others' video again each time.
 */
import { type Browser, chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../playwright.config.ts';
import { type Participant, allRemoteVideoAt, openParticipant, waitUntilJoined } from './browser-participant.ts';
import { ToolError } from './cli.ts';

const JOIN_TIMEOUT_MS = 30_000;
/** Small pictures: two cores also run the server, the workers and the churn. */
const CAMERA_HEIGHT = 180;

export interface RejoinResult {
  name: string;
  /** From opening the page again to decoding every other page's video; null if that never happened. */
  videoMs: number | null;
}

export class SoakBrowsers {
  readonly rejoins: RejoinResult[] = [];
  readonly #pages: Participant[] = [];
  #next = 0;
  #generation = 0;

  private constructor(
    private readonly browser: Browser,
    private readonly baseUrl: string,
    readonly roomId: string,
    private readonly log: (message: string) => void,
  ) {}

  /** Opens `count` pages one after another and waits until each decodes all the others. */
  static async open(baseUrl: string, roomId: string, count: number, log: (message: string) => void): Promise<SoakBrowsers> {
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const browsers = new SoakBrowsers(browser, baseUrl, roomId, log);
    try {
      for (let i = 0; i < count; i++) {
        const page = await browsers.#open(`B${i}`);
        if (!(await waitUntilJoined(page.page, JOIN_TIMEOUT_MS))) throw new ToolError(`browser page B${i} did not join`);
        browsers.#pages.push(page);
      }
      if (count > 1) {
        const times = await Promise.all(browsers.#pages.map((p) => allRemoteVideoAt(p.page, count - 1, JOIN_TIMEOUT_MS, log)));
        if (times.some((t) => t === null)) throw new ToolError('the browser pages do not all decode each other');
      }
      return browsers;
    } catch (error) {
      await browsers.close();
      throw error;
    }
  }

  get count(): number {
    return this.#pages.length;
  }

  version(): string {
    return this.browser.version();
  }

  /** Closes the next page in turn (a person leaving) and opens it again; resolves once it sees everyone. */
  async rejoinOne(): Promise<RejoinResult> {
    const index = this.#next++ % this.#pages.length;
    const old = this.#pages[index]!;
    await old.context.close();
    const fresh = await this.#open(old.name.replace(/\.\d+$/, ''));
    this.#pages[index] = fresh;
    const others = this.#pages.length - 1;
    const at =
      others > 0
        ? await allRemoteVideoAt(fresh.page, others, JOIN_TIMEOUT_MS, this.log)
        : (await waitUntilJoined(fresh.page, JOIN_TIMEOUT_MS))
          ? Date.now()
          : null;
    const result = { name: fresh.name, videoMs: at === null ? null : at - fresh.openedAt };
    this.rejoins.push(result);
    return result;
  }

  /** Every page leaves (closing its context is closing the tab). */
  async leaveAll(): Promise<void> {
    for (const page of this.#pages.splice(0)) await page.context.close();
  }

  async close(): Promise<void> {
    await this.leaveAll();
    await this.browser.close();
  }

  #open(name: string): Promise<Participant> {
    return openParticipant(this.browser, {
      baseUrl: this.baseUrl,
      roomId: this.roomId,
      name: `${name}.${this.#generation++}`,
      res: CAMERA_HEIGHT,
      timeoutMs: JOIN_TIMEOUT_MS,
      onLog: this.log,
    });
  }
}
