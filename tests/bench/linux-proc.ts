/**
 * Readings from Linux's /proc. The worker pool exposes its workers' pids but not the mediasoup Worker
 * objects, so CPU is read per pid here rather than with worker.getResourceUsage(); it also works for
 * ffmpeg, and it costs the workers nothing to be measured.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** Units of utime/stime in /proc/<pid>/stat (USER_HZ, 100 on every common kernel; asked, not assumed). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (!Number.isInteger(value) || value <= 0) throw new Error(`getconf CLK_TCK returned "${value}"`);
    clockTicks = value;
  }
  return clockTicks;
}

/** CPU time (user + system, in seconds) a process has used so far; undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // Field 2 is the command name in parentheses and may itself contain spaces or ')': count fields
  // from after the last ')'. There, index 0 is field 3 (state), so utime (14) and stime (15) are 11, 12.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat`);
  return (utime + stime) / ticksPerSecond();
}

const LOOPBACK_HEX = '0100007F'; // 127.0.0.1 as /proc/net/udp prints it (little-endian hex)

/**
 * Datagrams the kernel dropped because these 127.0.0.1 UDP sockets' receive buffers were full, summed
 * since the sockets opened. Loss seen by a sink with no kernel drops happened before the sink.
 */
export function udpReceiveDrops(ports: ReadonlySet<number>): number {
  let drops = 0;
  // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [address, portHex] = (fields[1] ?? '').split(':');
    if (address !== LOOPBACK_HEX || !portHex || fields[12] === undefined) continue;
    if (ports.has(Number.parseInt(portHex, 16))) drops += Number(fields[12]);
  }
  return drops;
}
