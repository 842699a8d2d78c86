/**
 * The cluster bench's webinar section (tests/bench/cluster-viewers.ts measures, this prints): one ramp
 * table per node count, built from bench:broadcast's ramp columns (one worker per node, so its
 * per-worker figures are per node), and the "viewers carried" lines.
 */
import { type Capacity, type RampStep, LOSS_LIMIT_PERCENT, rampColumns, rampStepJson } from './broadcast-report.ts';
import type { Column } from './table.ts';

export interface ClusterRampStep extends RampStep {
  /** Synthetic viewers on each node, in node order (node-1 first). */
  viewersPerNode: number[];
  /**
   * Per node, packets the stage's producers there lost on the way in during the measured seconds:
   * at the origin from ffmpeg, at an edge on the pipe from the origin. Every viewer there inherits them.
   */
  inboundLostPerNode: number[];
}

export interface ViewersRound {
  nodes: number;
  /** The node that holds the webinar's lease and serves its stage. */
  origin: string;
  /** The other nodes, each serving its viewers as an edge (empty with one node). */
  edges: string[];
  /** What the origin's /healthz said once every edge was linked: the edge nodes it pipes to. */
  originPipesTo: string[];
  /** What each edge's /healthz said: producers piped in from the origin. */
  pipedProducers: Record<string, number>;
  steps: ClusterRampStep[];
  capacity: Capacity;
  /** The ramp stopped before its last step (a failing step, or an interruption). */
  stoppedEarly: boolean;
}

export interface ViewersResults {
  cpus: number;
  /** How the viewers are spread: evenly over every node, the origin included. */
  split: string;
  rounds: ViewersRound[];
}

/**
 * bench:broadcast's ramp columns, their per-worker figures read per node (one worker each), and the
 * viewers each node carries next to the total. "node cpu %" there is this process: with in-process
 * servers it holds every node's control plane and the tool, so it is named "bench proc cpu %" here.
 */
export function clusterRampColumns(): Column<ClusterRampStep>[] {
  const renamed: Record<string, string> = { 'cons/worker': 'cons/node', 'worker cpu %': 'worker cpu %/node', 'node cpu %': 'bench proc cpu %' };
  const columns: Column<ClusterRampStep>[] = rampColumns().map((column) => {
    const header = renamed[column.header];
    return header ? { ...column, header } : column;
  });
  columns.splice(1, 0, { header: 'viewers/node', width: 12, value: (r) => r.viewersPerNode.join('/') });
  // Before "ok": loss that happened before any viewer's consumer (ffmpeg to origin, origin to edge).
  columns.splice(columns.length - 1, 0, { header: 'in lost/node', width: 12, value: (r) => r.inboundLostPerNode.join('/') });
  return columns;
}

const nodesWord = (n: number): string => `${n} node${n === 1 ? '' : 's'}`;

function carried(round: ViewersRound): string {
  const { maxViewers, firstFailure } = round.capacity;
  if (maxViewers === null) return firstFailure ? `none (at ${firstFailure.viewers}: ${firstFailure.reasons.join(', ')})` : 'not measured';
  if (firstFailure) return `${maxViewers}`;
  return round.stoppedEarly ? `${maxViewers} (ramp interrupted)` : `>= ${maxViewers} (the largest step)`;
}

/** One line per node count, under its table. */
export function roundLine(round: ViewersRound): string {
  const limits = `audio and video loss < ${LOSS_LIMIT_PERCENT} %, no sink drops, every stream at the sink`;
  const failure = round.capacity.firstFailure;
  return (
    `${nodesWord(round.nodes)}: viewers carried within limits (${limits}): ${carried(round)}` +
    (failure && round.capacity.maxViewers !== null ? `; at ${failure.viewers}: ${failure.reasons.join(', ')}` : '')
  );
}

/** Plain lines for the summary block (and docs/benchmarks.md). */
export function viewersSummaryLines(results: ViewersResults): string[] {
  const figures = results.rounds.map((round) => `${nodesWord(round.nodes)} ${carried(round)}`).join(', ');
  const lines = [
    `Webinar viewers carried at <${LOSS_LIMIT_PERCENT} % loss: ${figures} ` +
      `(1 worker per node, ${results.split}; the nodes, redis-server, ffmpeg and the RTP sink share this machine's ${results.cpus} cores).`,
  ];
  for (const round of results.rounds) {
    const best = round.steps.find((step) => step.viewers === round.capacity.maxViewers);
    if (!best) continue;
    lines.push(
      `${nodesWord(round.nodes)} at ${best.viewers} viewers (${best.viewersPerNode.join('/')} per node; origin ${round.origin}${round.edges.length ? `, edges ${round.edges.join(', ')}` : ''}): ` +
        `${Math.round(best.outPacketsPerSecond)} pkt/s forwarded, video loss ${round2(best.lossPercentByKind.video)} %, ` +
        `worker CPU ${best.workerCpuPercent.map((v) => (v === null ? '-' : Math.round(v))).join('/')} % per node.`,
    );
  }
  return lines;
}

const round2 = (value: number | null | undefined): string => (value === null || value === undefined ? '-' : value.toFixed(2));

export function viewersJson(results: ViewersResults): Record<string, unknown> {
  return {
    split: results.split,
    rounds: results.rounds.map((r) => ({
      nodes: r.nodes,
      origin: r.origin,
      edges: r.edges,
      originPipesTo: r.originPipesTo,
      pipedProducers: r.pipedProducers,
      viewersCarried: r.capacity.maxViewers,
      firstStepOverLimits: r.capacity.firstFailure ?? null,
      steps: r.steps.map((step) => ({ ...rampStepJson(step), viewersPerNode: step.viewersPerNode, inboundLostPerNode: step.inboundLostPerNode })),
    })),
  };
}
