export type QualityLevel = 'good' | 'fair' | 'poor';

/** From mediasoup's 0-10 scores: the worse of the sender's uplink and our own path decides. */
export function levelFromScores(scores: Array<{ score: number; producerScore: number }>): QualityLevel | undefined {
  if (scores.length === 0) return undefined;
  const worst = Math.min(...scores.map((s) => Math.min(s.score, s.producerScore)));
  return worst >= 8 ? 'good' : worst >= 5 ? 'fair' : 'poor';
}

/** From our own measurements: packet loss (0-1) and round-trip time (seconds). */
export function levelFromNetwork(loss: number, rttSeconds: number | undefined): QualityLevel {
  const rtt = rttSeconds ?? 0;
  if (loss > 0.08 || rtt > 0.4) return 'poor';
  if (loss > 0.02 || rtt > 0.2) return 'fair';
  return 'good';
}
