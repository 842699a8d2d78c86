/**
 * Debian's browsers under Playwright, with fake camera and microphone: Chromium over CDP and
 * Firefox ESR over WebDriver BiDi (Playwright's own Firefox build cannot be downloaded here).
 */
import { type Browser, type LaunchOptions, chromium, firefox } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../playwright.config.ts';

export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

const FIREFOX_PREFS = {
  // A fake camera and microphone, granted without a prompt.
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  // Firefox gathers ICE candidates on every interface only for pages that may use camera or microphone
  // (its fake devices do not count as capturing); otherwise only on the default-route interface, eth0,
  // never on a test veth. A default grant covers every page, including viewers without devices.
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  // Remote audio plays without a click, like Chromium's --autoplay-policy flag.
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
};

/**
 * BiDi commands Playwright sends on every new context and page that this ESR does not implement.
 * Only prefers-color-scheme emulation depends on them, which these tests do not use.
 */
const OPTIONAL_BIDI_COMMANDS = new Set(['emulation.setMediaFeaturesOverride']);
const PATCHED = Symbol.for('roundtable.optionalBidiCommands');

interface BidiSessionLike {
  send(method: string, params?: unknown): Promise<unknown>;
}

/**
 * Makes Playwright's BiDi sessions answer `{}` when Firefox rejects an optional command as unknown;
 * without this, `newContext()` and `newPage()` fail with "unknown command". Playwright keeps no public
 * hook for it, so this reaches its in-process server object: if that changes, fail loudly here.
 */
function tolerateOptionalBidiCommands(browser: Browser): void {
  const connection = (browser as unknown as { _connection?: { toImpl?: (object: unknown) => unknown } })._connection;
  const impl = connection?.toImpl?.(browser) as { _browserSession?: BidiSessionLike } | undefined;
  const session = impl?._browserSession;
  if (!session || typeof session.send !== 'function') {
    throw new Error('Playwright internals changed: cannot reach the BiDi session to tolerate emulation.setMediaFeaturesOverride');
  }
  // The prototype is shared with the per-page sessions, which send the same command on emulateMedia().
  const proto = Object.getPrototypeOf(session) as BidiSessionLike & { [PATCHED]?: true };
  if (proto[PATCHED]) return;
  const send = proto.send;
  proto.send = async function (this: BidiSessionLike, method: string, params?: unknown) {
    try {
      return await send.call(this, method, params);
    } catch (error) {
      if (OPTIONAL_BIDI_COMMANDS.has(method) && /unknown command/i.test(String(error))) return {};
      throw error;
    }
  };
  proto[PATCHED] = true;
}

/** Firefox ESR with fake media. Use `browser.newContext()` / `newPage()` as usual. */
export async function launchFirefox(options: LaunchOptions = {}): Promise<Browser> {
  const browser = await firefox.launch({
    channel: 'moz-firefox',
    executablePath: FIREFOX_PATH,
    ...options,
    firefoxUserPrefs: { ...FIREFOX_PREFS, ...options.firefoxUserPrefs },
  });
  try {
    tolerateOptionalBidiCommands(browser);
  } catch (error) {
    await browser.close();
    throw error;
  }
  return browser;
}

/** Debian's Chromium with the same flags as the e2e suite (fake devices, no background traffic). */
export function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, ...options, args: [...CHROMIUM_ARGS, ...(options.args ?? [])] });
}
