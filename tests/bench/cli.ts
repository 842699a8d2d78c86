/** What the benchmark tools share on the command line: flag parsing, progress output, exit codes, Ctrl-C. */

import { SRTP_SUITES, type SrtpSuite, isSrtpSuite } from './srtp.ts';

/** A bad flag: reported with the usage text and exit code 2, rather than as a crash. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * An expected failure (a missing prerequisite, ffmpeg or a worker stopping mid-run): reported as its
 * message alone, exit 1.
 */
export class ToolError extends Error {
  override name = 'ToolError';
}

export function positiveInt(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`--${flag} must be a positive integer (got "${raw}")`);
  return value;
}

export function nonNegativeNumber(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`--${flag} must be a number >= 0 (got "${raw}")`);
  }
  return value;
}

export function positiveNumber(flag: string, raw: string): number {
  const value = nonNegativeNumber(flag, raw);
  if (value === 0) throw new UsageError(`--${flag} must be greater than 0`);
  return value;
}

/** "100,250,500": strictly increasing, because a ramp only ever adds load. */
export function increasingIntList(flag: string, raw: string): number[] {
  const values = raw.split(',').map((part) => positiveInt(flag, part.trim()));
  for (let i = 1; i < values.length; i++) {
    if (values[i]! <= values[i - 1]!) throw new UsageError(`--${flag} must be strictly increasing (got "${raw}")`);
  }
  return values;
}

/** "1280x720" */
export function frameSize(flag: string, raw: string): { width: number; height: number } {
  const match = /^(\d+)x(\d+)$/.exec(raw);
  if (!match) throw new UsageError(`--${flag} must look like 1280x720 (got "${raw}")`);
  const width = positiveInt(flag, match[1]!);
  const height = positiveInt(flag, match[2]!);
  // VP8 needs even dimensions for 4:2:0 chroma.
  if (width % 2 || height % 2) throw new UsageError(`--${flag} needs even width and height (got "${raw}")`);
  return { width, height };
}

/** How the synthetic receivers get their media: an SRTP suite, or `none` for plain RTP. */
export type SrtpChoice = SrtpSuite | 'none';

/** What browsers negotiate with mediasoup, so the SFU pays for the same encryption it does for them. */
export const DEFAULT_SRTP: SrtpChoice = 'AEAD_AES_256_GCM';

/** `--srtp SUITE`, for the tools with synthetic receivers. */
export function srtpChoice(flag: string, raw: string): SrtpChoice {
  if (raw === 'none' || isSrtpSuite(raw)) return raw;
  throw new UsageError(`--${flag} must be one of ${[...SRTP_SUITES, 'none'].join(', ')} (got "${raw}")`);
}

/** The suite to set up receivers with; undefined for plain RTP. */
export function srtpSuiteOf(choice: SrtpChoice): SrtpSuite | undefined {
  return choice === 'none' ? undefined : choice;
}

/** How a progress line names it. */
export function describeSrtp(choice: SrtpChoice): string {
  return choice === 'none' ? 'receivers on plain RTP' : `receivers on SRTP ${choice}`;
}

/**
 * Where the receivers' packets are counted: `native`, a compiled C core (little CPU per packet), or
 * `node`, a Node process (one event per datagram; needs no C compiler).
 */
export type SinkKind = 'native' | 'node';

export const SINK_KINDS: readonly SinkKind[] = ['native', 'node'];

export const DEFAULT_SINK: SinkKind = 'native';

/** `--sink native|node`, for the tools with synthetic receivers. */
export function sinkKind(flag: string, raw: string): SinkKind {
  if ((SINK_KINDS as readonly string[]).includes(raw)) return raw as SinkKind;
  throw new UsageError(`--${flag} must be one of ${SINK_KINDS.join(', ')} (got "${raw}")`);
}

/** The usage text's lines for --sink, shared by the tools; descriptions start at `column`. */
/**
 * The usage lines of the options every tool with synthetic receivers shares: --srtp and --sink, and
 * --bwe where the tool offers it. `noun` names the receivers ("receivers", "viewers").
 */
export function receiverUsage(column: number, noun: string, withBwe: boolean): string {
  const pad = (text: string): string => text.padEnd(column);
  const bwe = withBwe
    ? `${pad('  --bwe')}${noun} declare transport-cc and REMB, like browsers, though they send
` +
      `${pad('')}no feedback: mediasoup then keeps 60 s of send history each (off by default)
`
    : '';
  return (
    bwe +
    `${pad('  --srtp SUITE')}how the ${noun} get their media: AEAD_AES_256_GCM (default: what
` +
    `${pad('')}browsers negotiate with mediasoup), AEAD_AES_128_GCM,
` +
    `${pad('')}AES_CM_128_HMAC_SHA1_80, or none (plain RTP, no encryption)
` +
    sinkUsage(column)
  );
}

function sinkUsage(column: number): string {
  const pad = (text: string): string => text.padEnd(column);
  return (
    `${pad('  --sink native|node')}where the receivers' packets are counted: native (default), a small C\n` +
    `${pad('')}program compiled on first use with cc and cached in ~/.cache/roundtable/bench;\n` +
    `${pad('')}or node, a Node process (no compiler needed, several times the CPU per packet)\n`
  );
}

/** Progress goes to stderr so that stdout holds only the results tables and the JSON summary. */
export function progress(tool: string, message: string): void {
  process.stderr.write(`[${tool}] ${message}\n`);
}

/** Waits, but returns early (without throwing) when the run is interrupted, so cleanup still runs. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The promise's value, or `fallback` as soon as the run is interrupted (the promise is left to settle). */
export function unlessAborted<T, F>(promise: Promise<T>, signal: AbortSignal, fallback: F): Promise<T | F> {
  if (signal.aborted) return Promise.resolve(fallback);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(fallback);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function isParseArgsError(error: unknown): error is Error {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/**
 * Runs a tool and exits with its code. The first Ctrl-C (or SIGTERM) aborts `signal` so the tool can
 * close its browsers, processes and sockets; a second one exits at once. Usage errors exit 2 with the
 * usage text, anything else exits 1.
 */
export async function runTool(
  tool: string,
  usage: string,
  main: (signal: AbortSignal) => Promise<number>,
): Promise<never> {
  const interrupt = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (interrupt.signal.aborted) process.exit(130);
    progress(tool, `${name}: stopping (again to quit at once)`);
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let code: number;
  try {
    code = await main(interrupt.signal);
    if (interrupt.signal.aborted) code = 130;
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      process.stderr.write(`${tool}: ${error.message}\n\n${usage}`);
      code = 2;
    } else if (error instanceof ToolError) {
      process.stderr.write(`${tool}: ${error.message}\n`);
      code = 1;
    } else {
      // Unexpected: the stack says where.
      process.stderr.write(`${tool}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      code = 1;
    }
  }
  // Exit explicitly: a library may keep a handle open (a socket in TIME_WAIT, a browser pipe) that would
  // otherwise keep a finished benchmark alive.
  process.exit(code);
}
