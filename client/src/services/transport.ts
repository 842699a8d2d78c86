import type { Device, types } from 'mediasoup-client';
import { FILE_CHANNEL_LABEL, type MediaSource, type RtpParametersPayload, type TransportInfo } from '../../../shared/index.ts';
import type { IceOptions } from './IceServers.ts';
import { type SignalingSocket, request } from './signaling.ts';

/** A mediasoup-client transport whose connect/produce/producedata callbacks go through signaling. */
export function createTransport(device: Device, socket: SignalingSocket, info: TransportInfo, ice: IceOptions): types.Transport {
  const options = {
    id: info.id,
    iceParameters: info.iceParameters,
    iceCandidates: info.iceCandidates as types.IceCandidate[],
    dtlsParameters: info.dtlsParameters as types.DtlsParameters,
    // Data channels (file sharing); the browser sets up SCTP only when the first channel opens.
    ...(info.sctpParameters ? { sctpParameters: info.sctpParameters as types.SctpParameters } : {}),
    ...ice,
  };
  const transport = info.direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    request(socket, 'connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
  });
  if (info.direction === 'send') {
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      request(socket, 'produce', {
        transportId: transport.id,
        kind,
        source: appData.source as MediaSource,
        ...(appData.paused === true ? { paused: true } : {}),
        // mediasoup-client types codec parameters as `unknown`; the server validates them.
        rtpParameters: rtpParameters as RtpParametersPayload,
      }).then(({ producerId }) => callback({ id: producerId }), errback);
    });
    // The only data channel a client sends on is its file upload channel (services/files).
    transport.on('producedata', ({ sctpStreamParameters, label, protocol }, callback, errback) => {
      const { streamId, ordered } = sctpStreamParameters;
      if (label !== FILE_CHANNEL_LABEL || ordered !== true || streamId === undefined) {
        errback(new Error(`no data channel "${label}" is known to the server`));
        return;
      }
      request(socket, 'openFileUpload', {
        transportId: transport.id,
        sctpStreamParameters: { streamId, ordered: true },
        label: FILE_CHANNEL_LABEL,
        protocol: protocol ?? '',
      }).then(({ dataProducerId }) => callback({ id: dataProducerId }), errback);
    });
  }
  recoverIceFailures(transport, socket);
  return transport;
}

/** A path that stays disconnected this long is given up on, like one that failed. */
const DISCONNECTED_GRACE_MS = 4_000;
/** ICE restarts of one transport are at least this far apart, however often its path fails. */
const MIN_RESTART_INTERVAL_MS = 8_000;

/**
 * When the media path breaks under a live call (UDP blocked after joining, a network switch), the
 * browser does not look for another path by itself: Firefox stays on its dead UDP pair. An ICE
 * restart makes it check every candidate again, the server's TCP one included.
 */
function recoverIceFailures(transport: types.Transport, socket: SignalingSocket): void {
  let lastRestart = 0;
  let disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
  const restart = () => {
    disconnectedTimer = undefined;
    if (transport.closed || !socket.connected) return; // rejoining restarts ICE anyway
    const wait = lastRestart + MIN_RESTART_INTERVAL_MS - Date.now();
    if (wait > 0) {
      disconnectedTimer = setTimeout(restart, wait);
      return;
    }
    lastRestart = Date.now();
    restartIce(socket, transport).catch((error: unknown) => console.warn('ICE restart after a broken media path failed', error));
  };
  transport.on('connectionstatechange', (state) => {
    if (disconnectedTimer) clearTimeout(disconnectedTimer);
    disconnectedTimer = undefined;
    if (state === 'failed') restart();
    else if (state === 'disconnected') disconnectedTimer = setTimeout(restart, DISCONNECTED_GRACE_MS);
  });
}

/** New ICE credentials from the server, after a network change or a long blip. */
export async function restartIce(socket: SignalingSocket, transport: types.Transport): Promise<void> {
  const { iceParameters } = await request(socket, 'restartIce', { transportId: transport.id });
  await transport.restartIce({ iceParameters });
}
