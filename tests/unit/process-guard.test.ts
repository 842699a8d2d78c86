import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** Runs a script with the process guard installed, in its own Node process; JSON log lines on stdout. */
function runGuarded(body: string): { status: number | null; lines: Array<{ msg: string; err?: { message: string } }>; stdout: string } {
  const script = `
    import { pino } from 'pino';
    import { guardProcess } from './sfu/src/process-guard.ts';
    let stopping = false;
    guardProcess(pino(), () => stopping, () => { stopping = true; console.log(JSON.stringify({ msg: 'SHUTDOWN' })); setTimeout(() => process.exit(process.exitCode ?? 0), 50); });
    ${body}
  `;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  const lines = result.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; err?: { message: string } });
  return { status: result.status, lines, stdout: result.stdout + result.stderr };
}

describe('process guard (sfu/src/process-guard.ts)', () => {
  it('an exception thrown from a timer and a rejection nobody catches are logged, and the process serves on', () => {
    const { status, lines, stdout } = runGuarded(`
      setTimeout(() => { throw new TypeError('thrown in a timer'); }, 10);
      setTimeout(() => void Promise.reject(new Error('nobody catches this')), 20);
      setTimeout(() => { console.log(JSON.stringify({ msg: 'still serving' })); process.exit(0); }, 300);
    `);
    expect(status, stdout).toBe(0);
    expect(lines.map((l) => [l.msg, l.err?.message])).toEqual([
      ['uncaught exception; serving on', 'thrown in a timer'],
      ['unhandled promise rejection (a missing catch); serving on', 'nobody catches this'],
      ['still serving', undefined],
    ]);
  });

  it('a burst of uncaught exceptions shuts the server down and exits non-zero', () => {
    const { status, lines, stdout } = runGuarded(`
      for (let i = 0; i < 10; i++) setTimeout(() => { throw new Error('broken ' + i); }, 10);
      setTimeout(() => process.exit(0), 5_000);
    `);
    expect(status, stdout).toBe(1);
    const guardLines = lines.map((l) => l.msg).filter((msg) => msg !== 'SHUTDOWN');
    expect(guardLines).toEqual([...Array(9).fill('uncaught exception; serving on'), 'uncaught exceptions in a burst: shutting down']);
    expect(lines.filter((l) => l.msg === 'SHUTDOWN')).toHaveLength(1);
  });
});
