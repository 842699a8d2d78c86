import type { types } from 'mediasoup';
import type { MediaAddress } from '../network/media-address.ts';
import type { PooledRouter } from '../media/WorkerPool.ts';
import type { PipeEnd } from './edge-protocol.ts';

/** One end of a node-to-node media pipe: UDP on the media address, SRTP and retransmission on. */
export function createSrtpPipe(router: PooledRouter, { listenIp, announcedIp }: MediaAddress): Promise<types.PipeTransport> {
  // RTX on: a packet lost on the pipe is lost for every viewer behind it, so it is worth resending.
  return router.createPipeTransport({ listenInfo: { protocol: 'udp', ip: listenIp, announcedAddress: announcedIp }, enableSrtp: true, enableRtx: true });
}

/** What the other node needs to send to this end: its address, port and SRTP key. */
export function pipeEnd(transport: types.PipeTransport): PipeEnd {
  const { localAddress, localIp, localPort } = transport.tuple;
  return { tuple: { ip: localAddress ?? localIp, port: localPort }, srtpParameters: transport.srtpParameters as PipeEnd['srtpParameters'] };
}

/** Connects this end to the other node's. */
export function connectPipe(transport: types.PipeTransport, other: PipeEnd): Promise<void> {
  return transport.connect({ ip: other.tuple.ip, port: other.tuple.port, srtpParameters: other.srtpParameters });
}
