/** The cluster bench's tables and its summary block (tests/bench/cluster.ts measures, this prints). */
import type { MachineInfo } from './machine.ts';
import { quantile } from './statistics.ts';
import { type Column, cell, table } from './table.ts';

/** One group of joins: how many, their share of the section, and their latency in ms. */
export interface LatencyRow {
  label: string;
  count: number;
  share: number;
  p50?: number;
  p95?: number;
  max?: number;
}

export interface PlacementRow {
  nodeId: string;
  rooms: number;
  peers: number;
}

export interface FailoverRow {
  round: number;
  killed: string;
  servedBy: string;
  /** Redirects followed and fresh starts from the entry node (a dead target, or a room not yet free). */
  hops: number;
  retries: number;
  gapMs: number;
}

export interface ClusterResults {
  machine: MachineInfo;
  nodes: number;
  leaseMs: number;
  fresh: LatencyRow[];
  existing: LatencyRow[];
  placement: PlacementRow[];
  /** How long opening the placement rooms took (the burst the heartbeat-reported load has to follow). */
  placementSeconds: number;
  failover: FailoverRow[];
}

export function latencyRow(label: string, samples: readonly number[], total: number): LatencyRow {
  return { label, count: samples.length, share: total ? samples.length / total : 0, p50: quantile(samples, 0.5), p95: quantile(samples, 0.95), max: quantile(samples, 1) };
}

export function machineLine({ cpus, cpuModel, kernel, node }: MachineInfo): string {
  return `machine: ${cpus} CPUs (${cpuModel}), Linux ${kernel}, Node ${node}`;
}

export function latencyTable(rows: readonly LatencyRow[]): string {
  const columns: Array<Column<LatencyRow>> = [
    { header: 'joins', width: 24, value: (r) => r.label },
    { header: 'count', width: 5, value: (r) => String(r.count) },
    { header: 'share', width: 5, value: (r) => `${cell(r.share * 100)}%` },
    { header: 'p50 ms', width: 6, value: (r) => cell(r.p50, 1) },
    { header: 'p95 ms', width: 6, value: (r) => cell(r.p95, 1) },
    { header: 'max ms', width: 6, value: (r) => cell(r.max, 1) },
  ];
  return table(columns, rows);
}

export function placementTable(rows: readonly PlacementRow[]): string {
  const columns: Array<Column<PlacementRow>> = [
    { header: 'node', width: 8, value: (r) => r.nodeId },
    { header: 'rooms', width: 5, value: (r) => String(r.rooms) },
    { header: 'peers', width: 5, value: (r) => String(r.peers) },
  ];
  return table(columns, rows);
}

export function failoverTable(rows: readonly FailoverRow[]): string {
  const columns: Array<Column<FailoverRow>> = [
    { header: 'kill', width: 4, value: (r) => String(r.round) },
    { header: 'owner killed', width: 12, value: (r) => r.killed },
    { header: 'new owner', width: 9, value: (r) => r.servedBy },
    { header: 'hops', width: 4, value: (r) => String(r.hops) },
    { header: 'retries', width: 7, value: (r) => String(r.retries) },
    { header: 'gap ms', width: 6, value: (r) => cell(r.gapMs) },
  ];
  return table(columns, rows);
}

const ms = (value: number | undefined): string => `${cell(value)} ms`;

/** Plain lines to paste into docs/benchmarks.md. */
export function summaryLines(results: ClusterResults): string[] {
  const { machine, nodes, leaseMs } = results;
  const lines = [
    `Cluster bench: ${nodes} node${nodes === 1 ? '' : 's'} and redis-server on one machine (${machine.cpus} CPUs, ${machine.cpuModel}), Node ${machine.node}.`,
  ];
  for (const row of results.fresh.filter((r) => r.count > 0)) {
    lines.push(`Join latency, ${row.label} (${cell(row.share * 100)}% of ${results.fresh.reduce((n, r) => n + r.count, 0)} joins): p50 ${ms(row.p50)}, p95 ${ms(row.p95)}, max ${ms(row.max)}.`);
  }
  for (const row of results.existing) {
    lines.push(`Join latency, ${row.label} (${row.count} joins): p50 ${ms(row.p50)}, p95 ${ms(row.p95)}, max ${ms(row.max)}.`);
  }
  const rooms = results.placement.reduce((n, r) => n + r.rooms, 0);
  lines.push(`Placement of ${rooms} rooms (2 clients each, opened in ${results.placementSeconds.toFixed(1)} s): ${results.placement.map((r) => `${r.nodeId} ${r.rooms} rooms / ${r.peers} peers`).join(', ')}.`);
  if (results.failover.length > 0) {
    const gaps = results.failover.map((r) => r.gapMs);
    lines.push(
      `Failover after kill -9 of the owner (${gaps.length} kill${gaps.length === 1 ? '' : 's'}, lease ${leaseMs} ms; production default 10 s): ` +
        `median ${ms(quantile(gaps, 0.5))}, worst ${ms(quantile(gaps, 1))} from the kill to the join served by the new owner.`,
    );
  }
  return lines;
}
