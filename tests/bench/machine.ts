/** The machine a benchmark ran on, for its JSON summary: results only compare across alike machines. */
import os from 'node:os';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  kernel: string;
  node: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', kernel: os.release(), node: process.version };
}
