import type { types } from 'mediasoup';

/**
 * Pacing of downloads. mediasoup drops a message for a DataConsumer whose SCTP send buffer is full,
 * so nothing is sent to a receiver while its association holds HIGH_WATER bytes not yet acknowledged;
 * sending resumes at LOW_WATER ('bufferedamountlow'). The send buffer is well above HIGH_WATER: what
 * this process believes is buffered can lag the worker's count by what it sent since the last report,
 * and that must still fit. HIGH_WATER also bounds one receiver's rate to about HIGH_WATER per round
 * trip (5 MB/s at 100 ms).
 */
export const SCTP_SEND_BUFFER_BYTES = 1024 * 1024;
export const HIGH_WATER = 512 * 1024;
export const LOW_WATER = 128 * 1024;

/**
 * SCTP on every room transport, for the file data channels. A browser sets up its association only
 * when a channel is opened, so a meeting nobody shares a file in pays nothing for it. Streams and
 * message size are mediasoup's defaults: mediasoup-client numbers its channels' streams up to 1024,
 * and a chunk (16 KiB and a header) is far below 256 KiB.
 */
export const ROOM_TRANSPORT_SCTP: Pick<
  types.WebRtcTransportOptions,
  'enableSctp' | 'numSctpStreams' | 'maxSctpMessageSize' | 'sctpSendBufferSize'
> = {
  enableSctp: true,
  numSctpStreams: { OS: 1024, MIS: 1024 },
  maxSctpMessageSize: 262_144,
  sctpSendBufferSize: SCTP_SEND_BUFFER_BYTES,
};
