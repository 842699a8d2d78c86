import type { Device, types } from 'mediasoup-client';
import type { MediaSource, RtpParametersPayload, TransportInfo } from '../../../shared/index.ts';
import type { IceOptions } from './IceServers.ts';
import { type SignalingSocket, request } from './signaling.ts';

/** A mediasoup-client transport whose connect/produce callbacks go through signaling. */
export function createTransport(device: Device, socket: SignalingSocket, info: TransportInfo, ice: IceOptions): types.Transport {
  const options = {
    id: info.id,
    iceParameters: info.iceParameters,
    iceCandidates: info.iceCandidates as types.IceCandidate[],
    dtlsParameters: info.dtlsParameters as types.DtlsParameters,
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
        // mediasoup-client types codec parameters as `unknown`; the server validates them.
        rtpParameters: rtpParameters as RtpParametersPayload,
      }).then(({ producerId }) => callback({ id: producerId }), errback);
    });
  }
  return transport;
}

/** New ICE credentials from the server, after a network change or a long blip. */
export async function restartIce(socket: SignalingSocket, transport: types.Transport): Promise<void> {
  const { iceParameters } = await request(socket, 'restartIce', { transportId: transport.id });
  await transport.restartIce({ iceParameters });
}
