import type { types } from 'mediasoup';
import type { TransportInfo } from '../../../shared/index.ts';

/** What a client needs to build its side of a WebRTC transport (SCTP only where the transport has it). */
export function transportInfo(transport: types.WebRtcTransport, direction: TransportInfo['direction']): TransportInfo {
  return {
    id: transport.id,
    direction,
    iceParameters: transport.iceParameters,
    iceCandidates: transport.iceCandidates as TransportInfo['iceCandidates'],
    dtlsParameters: transport.dtlsParameters as TransportInfo['dtlsParameters'],
    ...(transport.sctpParameters ? { sctpParameters: transport.sctpParameters as TransportInfo['sctpParameters'] } : {}),
  };
}
