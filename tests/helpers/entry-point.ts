import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';

export interface EntryPointOptions {
  /** Run as the unprivileged `nobody` (root only), for whom root's files are read-only. */
  asNobody?: boolean;
  /** More environment variables (`PORT` to keep a URL across restarts, `ROUNDTABLE_SHUTDOWN_DEADLINE_MS`, …). */
  env?: Record<string, string>;
}

/** The real entry point (`npm start` without the install step), on free ports, with its data dir. */
export class EntryPoint {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;
  readonly ready: Promise<string>;
  private readonly child: ChildProcess;

  constructor(dataDir: string, { asNobody = false, env = {} }: EntryPointOptions = {}) {
    const command = [process.execPath, '--import', 'tsx', 'sfu/src/main.ts'];
    if (asNobody) command.unshift('runuser', '-u', 'nobody', '--');
    this.child = spawn(command[0]!, command.slice(1), {
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        PORT: '0',
        ROUNDTABLE_STATIC_DIR: '',
        ROUNDTABLE_WORKERS: '1',
        ROUNDTABLE_RTC_LISTEN_IP: '127.0.0.1',
        ROUNDTABLE_RTC_BASE_PORT: '0',
        ROUNDTABLE_DATA_DIR: dataDir,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready in 20 s:\n${this.output.join('\n')}`)), 20_000);
      void this.exited.then((code) => reject(new Error(`exited with ${code}:\n${this.output.join('\n')}`)));
      for (const stream of [this.child.stdout!, this.child.stderr!]) {
        createInterface({ input: stream }).on('line', (line) => {
          this.output.push(line);
          const url = line.startsWith('{') ? (JSON.parse(line) as { msg?: string; url?: string }) : undefined;
          if (url?.msg?.startsWith('Roundtable is ready') && url.url) {
            clearTimeout(timer);
            resolve(url.url);
          }
        });
      }
    });
    this.ready.catch(() => undefined); // awaited by the test; a late rejection is not unhandled
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** A TCP port free on 127.0.0.1 right now, for a process that must come back on the same one. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
