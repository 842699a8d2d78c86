/**
 * The native counting core of the RTP sink (native/rtp-sink.c), compiled at bench time with the
 * system's C compiler and cached by the source's hash, so an edited source is rebuilt and an unchanged
 * one is compiled once per machine.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError } from './cli.ts';

const SOURCE = fileURLToPath(new URL('./native/rtp-sink.c', import.meta.url));

/** The install scripts' cache folder (scripts/lib/common.sh, same rule), plus `bench`. */
export function benchCacheDir(): string {
  const root = process.env.ROUNDTABLE_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'roundtable');
  return join(root, 'bench');
}

let built: string | undefined;

/**
 * The path of the compiled sink, compiling it first if this source has not been compiled yet. Throws a
 * ToolError when there is no C compiler (`$CC`, else `cc`) or the source does not compile.
 */
export function nativeSinkBinary(): string {
  if (built && existsSync(built)) return built;
  if (process.platform !== 'linux') throw new ToolError('the native RTP sink runs on Linux only; use --sink node');
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const dir = benchCacheDir();
  const binary = join(dir, `rtp-sink-${hash}`);
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    // Compiled to a name of its own, then renamed: parallel runs (test files) never see half a binary.
    const partial = `${binary}.${process.pid}.partial`;
    const compiler = process.env.CC || 'cc';
    try {
      execFileSync(compiler, ['-O2', '-std=c11', '-o', partial, SOURCE], { stdio: ['ignore', 'pipe', 'pipe'] });
      renameSync(partial, binary);
    } catch (error) {
      rmSync(partial, { force: true });
      const { code, stderr } = error as NodeJS.ErrnoException & { stderr?: Buffer };
      if (code === 'ENOENT') {
        throw new ToolError(`no C compiler ("${compiler}") for the native RTP sink: install one (e.g. apt-get install gcc) or use --sink node`);
      }
      throw new ToolError(`cannot compile the native RTP sink (${SOURCE}) with ${compiler}: ${stderr?.toString().trim() || (error as Error).message}`);
    }
  }
  built = binary;
  return binary;
}
