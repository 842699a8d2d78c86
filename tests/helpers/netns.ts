/**
 * Network namespaces for tests: a server inside one is reached from the host over a veth pair, a
 * real non-loopback link whose UDP can be blocked, packets dropped at random, or bandwidth limited.
 *
 * Only our own addresses are used: each namespace gets a /30 from 198.18.0.0/15 (RFC 2544 benchmark
 * range) and no default route, so nothing inside it can reach anything but the host end of its veth.
 * Needs root, iproute2 and iptables (either backend). `tc netem` is not available on these machines.
 */
import { type ChildProcess, type SpawnOptions, execFileSync, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { isAlive, killQuietly, run, stopChild } from './processes.ts';

export { stopChild };

/** The ns-side interface; names inside a namespace cannot collide with anyone else's. */
const NS_IF = 'veth0';
/** Our namespaces are `rt<pid>n<counter>`, their host-side veths `rt<pid>h<counter>` (≤ 15 chars). */
const OWN_NAME = /^rt(\d+)[nh](\d+)$/;
/** 198.18.0.0/15 holds 32,768 /30 blocks. */
const BLOCKS = 32_768;
/** iptables chains in the namespace, one per fault so each can be set and cleared on its own. */
const CHAIN_UDP = 'RT_BLOCK_UDP';
const CHAIN_LOSS = 'RT_LOSS';
const KILL_GRACE_MS = 3_000;

export type RateDirection = 'toHost' | 'fromHost';

export interface RateOptions {
  /** Bucket size; at least a few full-size packets, or tbf drops everything. Default: 20 ms of rate. */
  burstBytes?: number;
  /** How long a packet may wait in the queue before tbf drops it. Default 200 ms. */
  latencyMs?: number;
}

/** Every namespace this process made and has not closed, for the exit hook. */
const live = new Set<Netns>();
let counter = 0;
let staleSweep: Promise<void> | undefined;
let exitHooked = false;

/** `ip netns pids` of a namespace, read synchronously (the exit hook cannot await). */
function nsPidsSync(name: string): number[] {
  const out = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.split('\n').filter(Boolean).map(Number);
}

/**
 * Deletes a namespace and whatever still runs in it. Deleting the name alone would leave the
 * namespace (and its veth) alive for as long as a process, e.g. a mediasoup worker, is inside.
 */
function destroyNamespaceSync(name: string): void {
  for (const pid of nsPidsSync(name)) killQuietly(pid, 'SIGKILL');
  execFileSync('ip', ['netns', 'del', name], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Removes namespaces and veths left by test processes that died without cleaning up. */
async function sweepStale(): Promise<void> {
  const names = (await run('ip', ['netns', 'list'])).split('\n').map((line) => line.split(' ')[0] ?? '');
  for (const name of names) {
    const match = OWN_NAME.exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    console.warn(`netns: removing stale namespace ${name}`);
    destroyNamespaceSync(name);
  }
  // A host-side veth outlives nothing of ours normally (it dies with its namespace); this is belt and braces.
  for (const line of (await run('ip', ['-o', 'link', 'show'])).split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    const match = name ? OWN_NAME.exec(name) : null;
    if (!name || !match || isAlive(Number(match[1]))) continue;
    try {
      await run('ip', ['link', 'del', name]);
      console.warn(`netns: removed stale veth ${name}`);
    } catch (error) {
      // Usually it was just going away with the namespace deleted above.
      if (!String(error).includes('Cannot find device')) throw error;
    }
  }
}

function ipv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** A /30 in 198.18.0.0/15 that no host interface uses yet, starting from one derived from pid and counter. */
async function freeBlock(seq: number): Promise<{ hostIp: string; nsIp: string }> {
  const used = new Set((await run('ip', ['-o', '-4', 'addr', 'show'])).match(/198\.1[89]\.\d+\.\d+/g) ?? []);
  const base = (198 << 24) | (18 << 16);
  const start = (process.pid * 64 + seq) % BLOCKS;
  for (let i = 0; i < BLOCKS; i++) {
    const block = base + ((start + i) % BLOCKS) * 4;
    if (!used.has(ipv4(block + 1)) && !used.has(ipv4(block + 2))) return { hostIp: ipv4(block + 1), nsIp: ipv4(block + 2) };
  }
  throw new Error('netns: no free /30 left in 198.18.0.0/15');
}

export class Netns {
  readonly nsIf = NS_IF;
  readonly #children = new Set<ChildProcess>();
  readonly #rates = new Set<RateDirection>();
  #chains: Promise<void> | undefined;
  #closed = false;

  constructor(
    readonly name: string,
    readonly hostIf: string,
    readonly hostIp: string,
    readonly nsIp: string,
  ) {}

  /** Runs a command inside the namespace and resolves with its stdout. */
  exec(cmd: string, args: string[] = []): Promise<string> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args]);
  }

  /** A long-running child inside the namespace; `close()` kills it if it is still running. */
  spawn(cmd: string, args: string[] = [], options: SpawnOptions = {}): ChildProcess {
    if (this.#closed) throw new Error(`netns ${this.name} is closed`);
    // `ip netns exec` execs the command in place, so the child's pid is the command's own.
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], options);
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** Drops all UDP on the veth, both ways: browsers must fall back to ICE over TCP (or TURN/TCP). */
  async blockUdp(): Promise<void> {
    await this.#setChain(CHAIN_UDP, ['-p', 'udp', '-j', 'DROP']);
  }

  async allowUdp(): Promise<void> {
    await this.#setChain(CHAIN_UDP, undefined);
  }

  /**
   * Drops each packet crossing the veth, either way, with this probability (0 stops dropping).
   * Packets the namespace sends are dropped on OUTPUT, so its senders see EPERM for them rather than
   * silent loss; mediasoup and TCP treat that as a lost packet.
   */
  async dropRandom(probability: number): Promise<void> {
    if (!(probability >= 0 && probability <= 1)) throw new RangeError(`probability ${probability} is not in [0, 1]`);
    const rule = ['-m', 'statistic', '--mode', 'random', '--probability', String(probability), '-j', 'DROP'];
    await this.#setChain(CHAIN_LOSS, probability > 0 ? rule : undefined);
  }

  /**
   * Limits one direction with a token bucket on that direction's egress: the ns side of the veth for
   * toHost (server → browser), the host side for fromHost (browser → server).
   */
  async limitRate(direction: RateDirection, kbit: number, options: RateOptions = {}): Promise<void> {
    const burst = options.burstBytes ?? Math.max(4 * 1514, Math.ceil((kbit * 1000) / 8 / 50));
    const tbf = ['qdisc', 'replace', 'dev', direction === 'toHost' ? this.nsIf : this.hostIf, 'root', 'tbf',
      'rate', `${kbit}kbit`, 'burst', String(burst), 'latency', `${options.latencyMs ?? 200}ms`];
    await run('tc', direction === 'toHost' ? ['-n', this.name, ...tbf] : tbf);
    this.#rates.add(direction);
  }

  async clearRate(): Promise<void> {
    for (const direction of this.#rates) {
      const del = ['qdisc', 'del', 'dev', direction === 'toHost' ? this.nsIf : this.hostIf, 'root'];
      await run('tc', direction === 'toHost' ? ['-n', this.name, ...del] : del);
      this.#rates.delete(direction);
    }
  }

  /** `ss -Hanp` for one protocol, as seen inside the namespace (state, addresses, owning process). */
  sockets(proto: 'udp' | 'tcp'): Promise<string> {
    return this.exec('ss', ['-Hanp', proto === 'udp' ? '--udp' : '--tcp']);
  }

  /** Kills the children (SIGTERM, then SIGKILL) and deletes the namespace with its veth. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#children].map((child) => stopChild(child, KILL_GRACE_MS)));
    for (const pid of nsPidsSync(this.name)) killQuietly(pid, 'SIGKILL');
    // The namespace, and with it the veth, goes when its last process has gone.
    for (let i = 0; i < 40 && nsPidsSync(this.name).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    destroyNamespaceSync(this.name);
    live.delete(this);
  }

  /** Synchronous best effort for the exit hook: no waiting for children to finish cleanly. */
  closeSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const child of this.#children) if (child.pid) killQuietly(child.pid, 'SIGKILL');
    destroyNamespaceSync(this.name);
    live.delete(this);
  }

  /** Hooks the fault chains into INPUT (from the veth) and OUTPUT (to it), once. */
  #ensureChains(): Promise<void> {
    this.#chains ??= (async () => {
      for (const chain of [CHAIN_UDP, CHAIN_LOSS]) {
        await this.exec('iptables', ['-N', chain]);
        await this.exec('iptables', ['-A', 'INPUT', '-i', this.nsIf, '-j', chain]);
        await this.exec('iptables', ['-A', 'OUTPUT', '-o', this.nsIf, '-j', chain]);
      }
    })();
    return this.#chains;
  }

  async #setChain(chain: string, rule: string[] | undefined): Promise<void> {
    await this.#ensureChains();
    await this.exec('iptables', ['-F', chain]);
    if (rule) await this.exec('iptables', ['-A', chain, ...rule]);
  }
}

function cleanupOnExit(): void {
  for (const ns of live) {
    try {
      ns.closeSync();
    } catch (error) {
      console.error(`netns: could not remove ${ns.name} on exit:`, error);
    }
  }
}

/**
 * A fresh namespace joined to the host by a veth pair: host side `hostIp`/30, ns side `nsIp`/30,
 * lo and the veth up, IPv6 off (the link carries only what the test sends), no default route.
 */
export async function createNetns(): Promise<Netns> {
  staleSweep ??= sweepStale();
  await staleSweep;
  if (!exitHooked) process.once('exit', cleanupOnExit);
  exitHooked = true;
  const seq = counter++;
  const name = `rt${process.pid}n${seq}`;
  const hostIf = `rt${process.pid}h${seq}`;
  const { hostIp, nsIp } = await freeBlock(seq);
  await run('ip', ['netns', 'add', name]);
  const ns = new Netns(name, hostIf, hostIp, nsIp);
  live.add(ns);
  try {
    // Strict reverse-path filtering drops what the host sends from its other addresses (eth0, bridges):
    // the namespace has no route back to them, and without the filter mediasoup would still see those
    // ICE checks. Firefox nominates aggressively, so such a check can become mediasoup's selected
    // tuple, and media then goes nowhere. IPv6 off keeps the link to what the test sends.
    await ns.exec('sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=1', 'net.ipv4.conf.default.rp_filter=1',
      'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    await run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', NS_IF, 'netns', name]);
    await writeFile(`/proc/sys/net/ipv6/conf/${hostIf}/disable_ipv6`, '1');
    await run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
    await run('ip', ['link', 'set', hostIf, 'up']);
    await run('ip', ['-n', name, 'addr', 'add', `${nsIp}/30`, 'dev', NS_IF]);
    await run('ip', ['-n', name, 'link', 'set', NS_IF, 'up']);
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (error) {
    await ns.close();
    throw error;
  }
  return ns;
}
