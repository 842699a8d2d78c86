/**
 * A recorder or render must not outlive the server: a real Node process starts one (here `sleep`)
 * through spawnTied and is then SIGKILLed, as a crashed server would be.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MODULE = fileURLToPath(new URL('../../sfu/src/recording/tied-process.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('processes tied to the server', () => {
  it('die with it when it is killed', async () => {
    const script = `import { spawnTied } from ${JSON.stringify(MODULE)};
const child = spawnTied('sleep', ['60'], { stdio: 'ignore' });
console.log(child.pid);
setInterval(() => {}, 1000);`;
    const server = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve) => server.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
    expect(alive(pid)).toBe(true);
    await sleep(200);
    expect(alive(pid)).toBe(true); // it runs on its own while the server lives
    server.kill('SIGKILL');
    await expect.poll(() => alive(pid), { timeout: 3_000 }).toBe(false);
  });
});
