/**
 * A real Redis server (Debian's `redis-server`; Valkey speaks the same protocol) for the cluster
 * tests: on a free loopback port, with a temporary directory and no automatic persistence, stopped
 * and removed by the test. It can be restarted on the same port, losing its data or keeping it
 * (through one explicit snapshot in its directory).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort } from './entry-point.ts';
import { stopChild } from './processes.ts';

export interface RedisServer {
  url: string;
  /** A new client (options override the defaults); closed by stop(). */
  client(options?: RedisOptions): Redis;
  /**
   * Stops the server and starts it again on the same port and directory; resolves once it answers
   * PING. With `keepData` it saves a snapshot on the way down and loads it on the way up (expired
   * keys stay expired); without, it comes back empty. `downtimeMs`: how long it stays down.
   */
  restart(options?: { keepData?: boolean; downtimeMs?: number }): Promise<void>;
  /** Stops the server for good and removes its directory; safe to call more than once. */
  stop(): Promise<void>;
}

const DUMP = 'dump.rdb';

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rt-redis-'));
  let port: number;
  try {
    port = await freePort();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = `redis://127.0.0.1:${port}`;
  const clients: Redis[] = [];
  let child: ChildProcess | undefined;
  let stopped = false;

  /** Starts redis-server and waits until it answers PING; on failure, it is not left running. */
  const launch = async (): Promise<void> => {
    const started = spawn(
      'redis-server',
      // No save points: nothing is written unless restart({ keepData: true }) asks for a snapshot.
      ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--dbfilename', DUMP, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    let output = '';
    started.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.on('error', (error) => (output += `\n${error.message}`)); // e.g. not installed: exitCode is set
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {}); // refused until the server listens: retried below
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          if (probe.status !== 'ready') await probe.connect();
          await probe.ping(); // LOADING while a snapshot is read: retried too
          break;
        } catch (error) {
          if (attempt > 100 || started.exitCode !== null || started.signalCode !== null) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    } catch (error) {
      await stopChild(started, 3_000);
      throw new Error(`redis-server did not start: ${(error as Error).message}\n${output.slice(-2000)}`);
    } finally {
      probe.disconnect();
    }
  };

  /** Brings the server down; with `save`, a snapshot is written first (SHUTDOWN SAVE). */
  const halt = async (save: boolean): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    if (save) {
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      const admin = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      admin.on('error', () => {});
      // The server closes the connection instead of answering: the rejection is expected.
      await admin.call('SHUTDOWN', 'SAVE').catch(() => {});
      admin.disconnect();
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (running.exitCode === null && running.signalCode === null) {
        await stopChild(running, 3_000);
        throw new Error('redis-server did not shut down on SHUTDOWN SAVE');
      }
      if (!existsSync(path.join(dir, DUMP))) throw new Error('redis-server shut down without saving its data');
    }
    // SIGTERM (then SIGKILL): with no save points configured, redis-server exits without saving.
    await stopChild(running, 3_000);
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const client of clients) client.disconnect();
    try {
      await halt(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  const restart = async ({ keepData = false, downtimeMs = 0 }: { keepData?: boolean; downtimeMs?: number } = {}): Promise<void> => {
    if (stopped) throw new Error('the redis server was stopped');
    await halt(keepData);
    if (!keepData) rmSync(path.join(dir, DUMP), { force: true });
    if (downtimeMs > 0) await new Promise((resolve) => setTimeout(resolve, downtimeMs));
    try {
      await launch();
    } catch (error) {
      await stop();
      throw error;
    }
  };

  try {
    await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    client: (options) => {
      const client = new Redis(url, { maxRetriesPerRequest: 1, ...options });
      clients.push(client);
      return client;
    },
    restart,
    stop,
  };
}
