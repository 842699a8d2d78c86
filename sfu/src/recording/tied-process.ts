/**
 * Recorders and renders are ffmpeg processes. If the server dies (SIGKILL, a crash, the OOM killer),
 * nothing would stop them: a recorder would wait for RTP forever and a render would keep a core busy.
 * On Linux they are started through util-linux's `setpriv --pdeathsig KILL`, so the kernel kills each
 * one when the server goes. A recorder's file stays playable up to its last one-second cluster.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';
const hasSetpriv = existsSync(SETPRIV);

/** Spawns `command` so that it dies with this process (where setpriv exists: Debian always has it). */
export function spawnTied(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  // setpriv execs the command in its own process: the pid is the command's.
  return hasSetpriv ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args], options) : spawn(command, args, options);
}
