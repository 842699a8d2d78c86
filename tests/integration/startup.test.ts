import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

interface Exit {
  code: number | null;
  output: string;
}

/** Runs the real entry point (`npm start` without the install step) and collects how it ended. */
function startServer(env: Record<string, string>): Promise<Exit> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rt-startup-'));
  return new Promise<Exit>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'sfu/src/main.ts'],
      { env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ROUNDTABLE_STATIC_DIR: '', ROUNDTABLE_WORKERS: '1', ROUNDTABLE_DATA_DIR: dataDir, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, output: stdout + stderr }),
    );
  }).finally(() => rmSync(dataDir, { recursive: true, force: true }));
}

describe('bad network configuration stops the server at startup, naming the key', () => {
  it.each([
    [{ ROUNDTABLE_TURN_URLS: 'turn:turn.example.org:3478' }, 'turn.secret (ROUNDTABLE_TURN_SECRET)'],
    [{ ROUNDTABLE_TURN_URLS: 'https://turn.example.org', ROUNDTABLE_TURN_SECRET: 'x'.repeat(20) }, 'turn.urls.0'],
    [{ ROUNDTABLE_RTC_BASE_PORT: '-4' }, 'rtc.basePort (ROUNDTABLE_RTC_BASE_PORT)'],
    [{ ROUNDTABLE_RTC_PORT_MODE: 'both' }, 'rtc.portMode (ROUNDTABLE_RTC_PORT_MODE)'],
  ])('%o', async (env, key) => {
    const exit = await startServer(env);
    expect(exit.code).toBe(2);
    expect(exit.output).toContain(key);
  });

  it('a media port already in use is named, and the server exits', async () => {
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(0, '127.0.0.1', resolve));
    const { port } = squatter.address();
    try {
      const exit = await startServer({ ROUNDTABLE_RTC_LISTEN_IP: '127.0.0.1', ROUNDTABLE_RTC_BASE_PORT: String(port) });
      expect(exit.code).toBe(1);
      expect(exit.output).toContain(`cannot listen on udp 127.0.0.1:${port}`);
      expect(exit.output).toContain('rtc.basePort');
    } finally {
      squatter.close();
    }
  });
});
