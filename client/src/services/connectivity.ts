import { Device, type types } from 'mediasoup-client';
import { type ConnectivityProbe, PROBE_PATHS, type ProbePath, type TransportInfo } from '../../../shared/index.ts';
import { type SignalingSocket, connectSignaling, request } from './signaling.ts';

/** A path that does not connect within this time counts as blocked (ICE over a working path takes < 1 s). */
const PATH_TIMEOUT_MS = 7_000;
const SIGNALING_TIMEOUT_MS = 8_000;

export type PathStatus = 'ok' | 'blocked' | 'not-offered';

export interface PathResult {
  status: PathStatus;
  /** Round trip over the path, from the browser's own ICE statistics. */
  rttMs?: number;
  /** What the browser's selected candidate pair used: `udp`/`tcp`, and `relay` for TURN. */
  protocol?: string;
  candidateType?: string;
}

export interface ConnectivityReport {
  signaling: { ok: boolean; rttMs?: number; error?: string };
  paths: Record<ProbePath, PathResult>;
  /** The path the call will take, in the browser's order of preference. */
  expected: ProbePath | 'none';
  relayOnly: boolean;
}

/**
 * What this network allows, tested before joining: signaling, then, in parallel, one data channel
 * to the SFU over UDP only, one over TCP only, and one through TURN (when the server has TURN).
 * It uses its own short-lived signaling connection and never blocks joining.
 */
export async function checkConnectivity(options: { relayOnly: boolean; roomId?: string; token?: string }): Promise<ConnectivityReport> {
  const socket = connectSignaling();
  const none: PathResult = { status: 'not-offered' };
  const report: ConnectivityReport = {
    signaling: { ok: false },
    paths: { udp: none, tcp: none, relay: none },
    expected: 'none',
    relayOnly: options.relayOnly,
  };
  try {
    await connected(socket);
    const started = performance.now();
    // The room (and its token, on a token server) lets the server offer the relay path to this person.
    const probe = await request(socket, 'checkConnectivity', {
      ...(options.roomId ? { roomId: options.roomId } : {}),
      ...(options.token ? { token: options.token } : {}),
    });
    report.signaling = { ok: true, rttMs: Math.round(performance.now() - started) };
    report.relayOnly ||= probe.relayOnly;
    const device = new Device();
    await device.load({ routerRtpCapabilities: probe.routerRtpCapabilities as types.RtpCapabilities });
    const results = await Promise.all(PROBE_PATHS.map((path) => probePath(device, socket, probe, path)));
    PROBE_PATHS.forEach((path, i) => (report.paths[path] = results[i]!));
    const usable = (report.relayOnly ? (['relay'] as const) : PROBE_PATHS).find((path) => report.paths[path].status === 'ok');
    report.expected = usable ?? 'none';
  } catch (error) {
    report.signaling = { ...report.signaling, error: (error as Error).message };
  } finally {
    socket.disconnect();
  }
  return report;
}

async function probePath(device: Device, socket: SignalingSocket, probe: ConnectivityProbe, path: ProbePath): Promise<PathResult> {
  const info: TransportInfo | undefined = probe.transports[path];
  if (!info?.sctpParameters) return { status: 'not-offered' };
  const transport = device.createSendTransport({
    id: info.id,
    iceParameters: info.iceParameters,
    iceCandidates: info.iceCandidates as types.IceCandidate[],
    dtlsParameters: info.dtlsParameters as types.DtlsParameters,
    sctpParameters: info.sctpParameters as types.SctpParameters,
    iceServers: path === 'relay' ? probe.iceServers : [],
    iceTransportPolicy: path === 'relay' ? 'relay' : 'all',
  });
  try {
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      request(socket, 'connectProbe', { path, dtlsParameters }).then(() => callback(), errback);
    });
    // Nothing is sent on the channel: opening it is what makes the browser connect the transport.
    transport.on('producedata', (_parameters, callback) => callback({ id: crypto.randomUUID() }));
    const outcome = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), PATH_TIMEOUT_MS);
      transport.on('connectionstatechange', (state) => {
        if (state === 'connected' || state === 'failed') {
          clearTimeout(timer);
          resolve(state === 'connected');
        }
      });
    });
    await transport.produceData({ label: 'roundtable-probe' });
    if (!(await outcome)) return { status: 'blocked' };
    return { status: 'ok', ...(await selectedPair(transport)) };
  } catch (error) {
    console.warn(`connectivity probe over ${path} failed`, error);
    return { status: 'blocked' };
  } finally {
    transport.close();
  }
}

/** The selected candidate pair as the browser reports it (Chromium and Firefox name fields alike). */
export async function selectedPair(transport: types.Transport): Promise<Omit<PathResult, 'status'>> {
  const stats = await transport.getStats();
  const all = [...stats.values()] as Array<Record<string, unknown>>;
  const pair =
    all.find((s) => s.type === 'candidate-pair' && s.selected === true) ??
    all.find((s) => s.type === 'candidate-pair' && s.nominated === true && s.state === 'succeeded');
  if (!pair) return {};
  const local = all.find((s) => s.id === pair.localCandidateId);
  const remote = all.find((s) => s.id === pair.remoteCandidateId);
  const rtt = typeof pair.currentRoundTripTime === 'number' ? Math.round(pair.currentRoundTripTime * 1000) : undefined;
  return {
    ...(rtt !== undefined ? { rttMs: rtt } : {}),
    ...(typeof remote?.protocol === 'string' ? { protocol: remote.protocol } : {}),
    ...(typeof local?.candidateType === 'string' ? { candidateType: local.candidateType } : {}),
  };
}

function connected(socket: SignalingSocket): Promise<void> {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not answer')), SIGNALING_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach the server (${error.message})`));
    });
  });
}

/** The report in plain words, for the person about to join. */
export function describeReport(report: ConnectivityReport): { level: 'good' | 'warning' | 'bad'; text: string } {
  if (!report.signaling.ok) {
    return { level: 'bad', text: `The server cannot be reached: ${report.signaling.error ?? 'no answer'}. Check your connection.` };
  }
  const { udp, tcp, relay } = report.paths;
  if (report.relayOnly) {
    return relay.status === 'ok'
      ? { level: 'good', text: 'Media will go through the relay server (TURN), as asked.' }
      : { level: 'bad', text: 'Relay-only was asked for, but the relay server (TURN) cannot be reached from this network.' };
  }
  if (udp.status === 'ok') return { level: 'good', text: 'Your network allows a direct connection. Audio and video will have the least delay.' };
  if (tcp.status === 'ok') return { level: 'warning', text: 'Your network blocks UDP. The call will use TCP, which can add delay.' };
  if (relay.status === 'ok') {
    return { level: 'warning', text: 'Your network blocks direct connections to the server. The call will go through the relay server (TURN), which can add delay.' };
  }
  return {
    level: 'bad',
    text:
      'Your network blocks audio and video to this server. You can still join, but others may not see or hear you. ' +
      'Try another network, or ask the server\u2019s operator to set up TURN on port 443.',
  };
}
