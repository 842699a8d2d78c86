import { describe, expect, it } from 'vitest';
import type { InboundRtp, OutboundRtp, StatsSample } from '../bench/network-meeting.ts';
import { firstAfter, fitsAfter, holdsFrom, layerRates, publisherFigures, receiverFigures, silentSeconds, stalls } from '../bench/networks-report.ts';

const T0 = 1_000_000;

function videoIn(at: number, fields: Partial<InboundRtp>): InboundRtp {
  return {
    ssrc: 1, kind: 'video', ts: at, bytesReceived: 0, packetsReceived: 0, packetsLost: 0, framesDecoded: 0, frameWidth: 960,
    nackCount: 0, pliCount: 0, hasFreezeCount: true, freezeCount: 0, totalFreezesDuration: 0, concealedSamples: 0,
    silentConcealedSamples: 0, totalSamplesReceived: 0, fecPacketsReceived: 0, ...fields,
  };
}

/** A receiver sample every 500 ms; `frames`, `width` and `lost` give each sample's cumulative values. */
function receiver(frames: number[], width: number[] = [], lost: number[] = []): StatsSample[] {
  return frames.map((framesDecoded, i) => {
    const at = T0 + i * 500;
    return {
      at,
      inbound: [videoIn(at, { framesDecoded, frameWidth: width[i] ?? 960, packetsReceived: 50 * i, packetsLost: lost[i] ?? 0, bytesReceived: 10_000 * i })],
      outbound: [],
      remoteInbound: [],
    };
  });
}

function layerOut(at: number, rid: string, bytesSent: number): OutboundRtp {
  return {
    ssrc: rid.charCodeAt(1), kind: 'video', rid, ts: at, bytesSent, retransmittedPacketsSent: 0, nackCount: 0, pliCount: 0,
    frameWidth: 960, framesEncoded: 0, qualityLimitationReason: 'bandwidth', limitedByBandwidth: (at - T0) / 1000, limitedByCpu: 0,
  };
}

describe('stalls', () => {
  it('merges consecutive intervals without a new frame into one stall', () => {
    const runs = stalls(receiver([0, 7, 7, 7, 14, 14, 21]));
    expect(runs).toEqual([
      { at: T0 + 500, seconds: 1 },
      { at: T0 + 2000, seconds: 0.5 },
    ]);
  });
});

describe('silentSeconds', () => {
  it('adds up the intervals in which no video byte arrived', () => {
    const samples = receiver([0, 7, 7, 7, 14]);
    samples[2]!.inbound[0]!.bytesReceived = samples[1]!.inbound[0]!.bytesReceived;
    samples[3]!.inbound[0]!.bytesReceived = samples[1]!.inbound[0]!.bytesReceived;
    expect(silentSeconds(samples)).toBeCloseTo(1);
  });
});

describe('receiverFigures', () => {
  it('takes rates and loss from counter deltas over the phase', () => {
    const samples = receiver([0, 7, 15, 22, 30], [960, 960, 480, 480, 480], [0, 0, 5, 5, 5]);
    const figures = receiverFigures(samples, { name: 'p', from: T0, to: T0 + 2000 }, 960);
    expect(figures.fps).toBeCloseTo(15);
    expect(figures.videoKbps).toBeCloseTo(160); // 40,000 bytes in 2 s
    expect(figures.widthMedian).toBe(480);
    expect(figures.atTopPct).toBeCloseTo(40);
    expect(figures.videoLossPct).toBeCloseTo((100 * 5) / 205);
    expect(figures.stalls).toBe(0);
    expect(figures.freezes).toBe(0);
  });
});

describe('event times', () => {
  it('firstAfter measures from the event to the first matching sample', () => {
    const samples = receiver([0, 7, 15, 22, 30], [960, 960, 240, 240, 960]);
    expect(firstAfter(samples, T0 + 200, T0 + 5000, (s) => s.inbound[0]!.frameWidth < 960)).toBeCloseTo(0.8);
    expect(firstAfter(samples, T0 + 200, T0 + 900, (s) => s.inbound[0]!.frameWidth < 960)).toBeNull();
  });

  it('holdsFrom skips a top width that does not last', () => {
    const samples = receiver([0, 7, 15, 22, 30, 37, 45, 52], [480, 960, 480, 960, 960, 960, 960, 960]);
    expect(holdsFrom(samples, T0, T0 + 3500, (s) => s.inbound[0]!.frameWidth >= 960, 1000)).toBeCloseTo(1.5);
  });

  it('a lower layer fits once it decodes without loss or stalls over the whole window', () => {
    const widths = [960, 960, 240, 240, 240, 240, 240, 240, 240];
    const frames = [0, 7, 7, 7, 14, 21, 28, 35, 42];
    // Loss during the switch, none after.
    const lost = [0, 0, 40, 60, 60, 60, 60, 60, 60];
    const fit = fitsAfter(receiver(frames, widths, lost), T0 + 400, T0 + 4000, 960, 1000, 2);
    // The window ending at 2000 ms still holds the stall (7 → 7); the one ending at 2500 ms (samples
    // at 1500, 2000, 2500) decodes throughout at 240 px and loses nothing: 2.1 s after the limit.
    expect(fit).toBeCloseTo(2.1);
  });
});

describe('publisher layers', () => {
  it('gives each rid its own rate and sees a layer stop', () => {
    const samples: StatsSample[] = [0, 1, 2, 3].map((i) => ({
      at: T0 + i * 1000,
      inbound: [],
      outbound: [layerOut(T0 + i * 1000, 'r0', 18_750 * i), layerOut(T0 + i * 1000, 'r2', 150_000 * Math.min(i, 1))],
      remoteInbound: [],
    }));
    expect(layerRates(samples, 'r2').map((r) => r.kbps)).toEqual([1200, 0, 0]);
    const figures = publisherFigures(samples, { name: 'p', from: T0, to: T0 + 3000 });
    expect(figures.layers.map((l) => [l.rid, l.kbps])).toEqual([['r0', 150], ['r2', 400]]);
    expect(figures.layers[0]!.bandwidthLimitedPct).toBeCloseTo(100);
    expect(figures.layers[0]!.reason).toBe('bandwidth');
  });
});
