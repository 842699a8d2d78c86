/**
 * The real Roundtable server (`node --import tsx sfu/src/main.ts`) inside a test namespace.
 *
 * Browsers load the page through a TCP forwarder on 127.0.0.1 — a secure context, so getUserMedia
 * works in Chromium and Firefox without TLS — while media (ICE) goes to the namespace's address over
 * the veth, where the namespace's faults apply (the forwarder's own connection crosses the veth too,
 * so loss and rate caps reach signaling as well). Each server gets its own temporary data directory.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { startTcpForwarder } from './tcp-forwarder.ts';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Netns } from './netns.ts';
import { stopChild } from './processes.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY_PREFIX = 'Roundtable is ready';
const STOP_GRACE_MS = 5_000;

/** One line of the server's output: pino's JSON fields, or `{ stream, msg }` for anything else. */
export interface LogLine {
  msg?: string;
  level?: number;
  stream?: 'stdout' | 'stderr';
  [field: string]: unknown;
}

export interface NetnsServer {
  /** What browsers open: the forwarder on 127.0.0.1. */
  url: string;
  /** The server's own address inside the namespace (reachable from the host over the veth). */
  nsUrl: string;
  /** Every line the server has printed so far; grows while it runs. */
  logs: LogLine[];
  process: ChildProcess;
  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM (SIGKILL after a few seconds), then closes the forwarder. Idempotent. */
  stop(): Promise<void>;
}

export interface NetnsServerOptions {
  readyTimeoutMs?: number;
}

function parseLine(line: string, stream: 'stdout' | 'stderr'): LogLine {
  if (line.startsWith('{')) {
    try {
      return JSON.parse(line) as LogLine;
    } catch (error) {
      // Not pino's JSON after all: keep the raw line, it is still worth asserting on.
      return { stream, msg: line, parseError: String(error) };
    }
  }
  return { stream, msg: line };
}

/**
 * Starts the server in `ns` and resolves once it logs that it is ready. Defaults: HOST=0.0.0.0,
 * PORT=0, the built client, LOG_LEVEL=info; `env` adds to or overrides them.
 */
export async function startServerInNetns(
  ns: Netns,
  env: Record<string, string> = {},
  options: NetnsServerOptions = {},
): Promise<NetnsServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rt-netns-data-'));
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
  const child = ns.spawn(process.execPath, ['--import', 'tsx', 'sfu/src/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      HOST: '0.0.0.0',
      PORT: '0',
      ROUNDTABLE_STATIC_DIR: `${REPO_ROOT}client/dist`,
      LOG_LEVEL: 'info',
      ROUNDTABLE_DATA_DIR: dataDir,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const waiters = new Set<(line: LogLine) => void>();
  for (const stream of ['stdout', 'stderr'] as const) {
    createInterface({ input: child[stream]! }).on('line', (text) => {
      const line = parseLine(text, stream);
      logs.push(line);
      for (const waiter of waiters) waiter(line);
    });
  }

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> => {
    const seen = logs.find(match);
    if (seen) return Promise.resolve(seen);
    if (child.exitCode !== null || child.signalCode !== null) {
      return Promise.reject(new Error(`server has exited (${child.signalCode ?? child.exitCode}); last lines:\n${tail(logs)}`));
    }
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        waiters.delete(onLine);
        child.off('close', onExit);
      };
      const onLine = (line: LogLine) => {
        if (!match(line)) return;
        done();
        resolve(line);
      };
      const onExit = (code: number | null, signal: string | null) => {
        done();
        reject(new Error(`server exited (${signal ?? code}) before the expected log line; last lines:\n${tail(logs)}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching server log line within ${timeoutMs} ms; last lines:\n${tail(logs)}`));
      }, timeoutMs);
      waiters.add(onLine);
      // 'close', not 'exit': by then its last lines (why it stopped) have been read.
      child.once('close', onExit);
    });
  };

  let ready: LogLine;
  try {
    ready = await waitForLog((line) => line.msg?.startsWith(READY_PREFIX) ?? false, options.readyTimeoutMs ?? 30_000);
  } catch (error) {
    await stopChild(child, STOP_GRACE_MS);
    removeDataDir();
    throw error;
  }
  const port = Number(new URL(String(ready.url)).port);
  const forwarder = await startTcpForwarder('127.0.0.1', ns.nsIp, port);

  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${forwarder.port}`,
    nsUrl: `http://${ns.nsIp}:${port}`,
    logs,
    process: child,
    waitForLog,
    stop: () => {
      stopping ??= (async () => {
        await stopChild(child, STOP_GRACE_MS);
        await forwarder.close();
        removeDataDir();
      })();
      return stopping;
    },
  };
}

function tail(logs: LogLine[], count = 20): string {
  return logs.slice(-count).map((line) => JSON.stringify(line)).join('\n');
}
