import os from 'node:os';
import type { Config } from '../../../config/index.ts';

/** Where media sockets bind, and the address browsers are told to send media to. */
export interface MediaAddress {
  listenIp: string;
  announcedIp: string;
  /** How the announced address was chosen, for the startup line. */
  origin: 'configured' | 'listen-ip' | 'detected' | 'loopback-fallback';
  /** Who will not be able to connect with this address, said at startup. */
  warnings: string[];
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

export function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || address.startsWith('127.');
}

/**
 * The machine's first non-internal IPv4 address (link-local skipped): what a browser on this machine
 * or on its LAN can reach, and, unlike 127.0.0.1, what Firefox does not discard as an ICE candidate.
 */
export function detectLanAddress(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string | undefined {
  for (const entries of Object.values(interfaces)) {
    for (const entry of entries ?? []) {
      if (entry.family === 'IPv4' && !entry.internal && !entry.address.startsWith('169.254.')) return entry.address;
    }
  }
  return undefined;
}

export function resolveMediaAddress(
  rtc: Pick<Config['rtc'], 'listenIp' | 'announcedIp'>,
  interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>,
): MediaAddress {
  const { listenIp } = rtc;
  let announcedIp: string;
  let origin: MediaAddress['origin'];
  if (rtc.announcedIp) {
    announcedIp = rtc.announcedIp;
    origin = 'configured';
  } else if (!WILDCARDS.has(listenIp)) {
    announcedIp = listenIp;
    origin = 'listen-ip';
  } else {
    const detected = detectLanAddress(interfaces);
    announcedIp = detected ?? '127.0.0.1';
    origin = detected ? 'detected' : 'loopback-fallback';
  }
  const warnings: string[] = [];
  if (isLoopback(announcedIp)) {
    warnings.push(
      `media is announced on ${announcedIp}: Firefox ignores loopback ICE candidates and will not connect, ` +
        'and no other machine can reach it; Chromium on this machine will. Set rtc.announcedIp ' +
        '(ROUNDTABLE_ANNOUNCED_IP) to an address browsers can reach.',
    );
  } else if (origin === 'detected') {
    warnings.push(
      `media is announced on ${announcedIp}, detected on this machine: browsers that cannot reach it (behind NAT, ` +
        'on the internet) need rtc.announcedIp set to the public address, or TURN.',
    );
  }
  return { listenIp, announcedIp, origin, warnings };
}
