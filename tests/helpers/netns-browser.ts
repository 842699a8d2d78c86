/**
 * A browser whose own network is a test namespace: its traffic to the host crosses the namespace's
 * veth, where `Netns.limitRate` and the other faults apply to it alone, while browsers on the host
 * keep their full-speed path. The server stays in the test process on the host.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from '@playwright/test';
import { CHROMIUM_PATH } from '../../playwright.config.ts';
import { launchChromium } from './firefox.ts';
import { type TcpForwarder, startTcpForwarder } from './tcp-forwarder.ts';
import type { Netns } from './netns.ts';

/**
 * Debian's Chromium started inside `ns` (through `ip netns exec`; Playwright still drives it over its
 * pipe). `secureOrigins`: plain-http origins the page may use as if secure (crypto.subtle needs it),
 * since from inside the namespace the server is not on loopback. Close the browser before the namespace.
 */
export async function launchChromiumInNetns(ns: Netns, secureOrigins: string[] = []): Promise<Browser> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'roundtable-netns-browser-'));
  const wrapper = path.join(dir, 'chromium');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns.name} ${CHROMIUM_PATH} "$@"\n`);
  chmodSync(wrapper, 0o755);
  try {
    const browser = await launchChromium({
      executablePath: wrapper,
      args: secureOrigins.length ? [`--unsafely-treat-insecure-origin-as-secure=${secureOrigins.join(',')}`] : [],
    });
    browser.once('disconnected', () => rmSync(dir, { recursive: true, force: true }));
    return browser;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export type { TcpForwarder };

/**
 * Forwards `host`:(free port) to 127.0.0.1:`port`: a server listening on loopback becomes reachable
 * from a namespace at the host's end of its veth.
 */
export function forwardToLoopback(host: string, port: number): Promise<TcpForwarder> {
  return startTcpForwarder(host, '127.0.0.1', port);
}
