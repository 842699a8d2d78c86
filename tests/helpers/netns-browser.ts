/**
 * A browser whose own network is a test namespace: its traffic to the host crosses the namespace's
 * veth, where `Netns.limitRate` and the other faults apply to it alone, while browsers on the host
 * keep their full-speed path. The server stays in the test process on the host.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from '@playwright/test';
import { CHROMIUM_PATH } from '../../playwright.config.ts';
import { launchChromium } from './firefox.ts';
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

export interface TcpForwarder {
  url: string;
  close(): Promise<void>;
}

/**
 * Forwards `host`:(free port) to 127.0.0.1:`port`: a server listening on loopback becomes reachable
 * from a namespace at the host's end of its veth. Closing cuts the open connections.
 */
export async function forwardToLoopback(host: string, port: number): Promise<TcpForwarder> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    // A reset on either side ends both, as it would end a direct connection.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return {
    url: `http://${host}:${(server.address() as net.AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
