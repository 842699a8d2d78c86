/**
 * Which ICE path a page's media took. The app's own stats hook does not say, so an init script keeps
 * every RTCPeerConnection the page makes and the test reads their selected candidate pairs.
 */
import type { BrowserContext, Page } from '@playwright/test';

export interface SelectedPair {
  state: string;
  /** 'udp' or 'tcp', from the local candidate (the browser's side of the path). */
  protocol: string;
  localType: string;
  /** 'active' for ICE-TCP from a browser. */
  tcpType?: string;
  /** How a relay candidate reaches its TURN server: 'udp', 'tcp' or 'tls'. */
  relayProtocol?: string;
  remoteAddress: string;
  remotePort: number;
  bytesSent: number;
  bytesReceived: number;
}

declare global {
  interface Window {
    __rtPeerConnections?: RTCPeerConnection[];
  }
}

/** Call before the page opens: records every RTCPeerConnection the context's pages create. */
export async function recordPeerConnections(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const created: RTCPeerConnection[] = [];
    window.__rtPeerConnections = created;
    // A Proxy, not a subclass, so instanceof checks and static methods behave as before.
    window.RTCPeerConnection = new Proxy(window.RTCPeerConnection, {
      construct(target, args: ConstructorParameters<typeof RTCPeerConnection>, newTarget) {
        const pc = Reflect.construct(target, args, newTarget) as RTCPeerConnection;
        created.push(pc);
        return pc;
      },
    });
  });
}

/** The selected pair of each open peer connection that has one (send and receive transports). */
export function selectedPairs(page: Page): Promise<SelectedPair[]> {
  return page.evaluate(async () => {
    const pairs: SelectedPair[] = [];
    for (const pc of window.__rtPeerConnections ?? []) {
      if (pc.connectionState === 'closed') continue;
      const reports = new Map<string, Record<string, unknown>>();
      (await pc.getStats()).forEach((report: Record<string, unknown>) => reports.set(report.id as string, report));
      const all = [...reports.values()];
      // Chromium names the pair on its transport; Firefox marks it `selected` (non-standard).
      const transportPairId = all.find((r) => r.type === 'transport' && r.selectedCandidatePairId)?.selectedCandidatePairId as string | undefined;
      const pair =
        (transportPairId ? reports.get(transportPairId) : undefined) ??
        all.find((r) => r.type === 'candidate-pair' && r.selected === true) ??
        all.find((r) => r.type === 'candidate-pair' && r.nominated === true && r.state === 'succeeded');
      if (!pair) continue;
      const local = reports.get(pair.localCandidateId as string) ?? {};
      const remote = reports.get(pair.remoteCandidateId as string) ?? {};
      pairs.push({
        state: String(pair.state),
        protocol: String(local.protocol),
        localType: String(local.candidateType),
        ...(local.tcpType ? { tcpType: String(local.tcpType) } : {}),
        ...(local.relayProtocol ? { relayProtocol: String(local.relayProtocol) } : {}),
        remoteAddress: String(remote.address ?? remote.ip),
        remotePort: Number(remote.port),
        bytesSent: Number(pair.bytesSent ?? 0),
        bytesReceived: Number(pair.bytesReceived ?? 0),
      });
    }
    return pairs;
  });
}
