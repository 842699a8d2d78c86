/**
 * What a layout asks the server to send, from what the publishers actually sent: each resumed
 * consumer costs the rate of the layer its receiver wants. Set against what reached the sink, it tells
 * a layout the worker could not keep up with from one that simply needs less.
 */
import type { LayoutPlan } from './layout-plans.ts';
import type { LayerCounters } from './simulcast-publisher.ts';

/** Bits per second each publisher's layers received between two readings, [publisher][layer]. */
export function layerBitrates(from: readonly LayerCounters[], to: readonly LayerCounters[], seconds: number): number[][] {
  return to.map((now, publisher) =>
    now.bytes.map((bytes, layer) => ((bytes - (from[publisher]?.bytes[layer] ?? 0)) * 8) / seconds),
  );
}

/** The layout's demand in Mbit/s: RTP payload and headers as the publishers sent them. */
export function demandMbitPerSecond(plan: LayoutPlan, participants: number, bitrates: readonly number[][]): number {
  let bits = 0;
  for (let receiver = 0; receiver < participants; receiver++) {
    for (let publisher = 0; publisher < participants; publisher++) {
      if (publisher === receiver) continue;
      const wanted = plan.wanted(receiver, publisher);
      if (!wanted.paused) bits += bitrates[publisher]?.[wanted.spatialLayer] ?? 0;
    }
  }
  return bits / 1e6;
}
