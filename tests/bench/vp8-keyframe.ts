/**
 * Recognises the first RTP packet of a VP8 keyframe, the packet a new viewer's decoder can start from.
 * The payload descriptor comes first (RFC 7741 §4.2), then the VP8 payload header (§4.3).
 */
import { rtpPayload } from './rtp-payload.ts';

/**
 * True when this VP8 RTP payload starts a keyframe: the descriptor's S bit is set with partition
 * index 0 (the frame's first packet), and the VP8 payload header's P bit (its lowest) is 0.
 */
export function isVp8KeyframeStartPayload(payload: Buffer): boolean {
  if (payload.length < 1) return false;
  const first = payload[0]!;
  const extended = (first & 0x80) !== 0; // X
  const startOfPartition = (first & 0x10) !== 0; // S
  const partitionIndex = first & 0x07; // PID
  if (!startOfPartition || partitionIndex !== 0) return false;
  let offset = 1;
  if (extended) {
    if (payload.length < offset + 1) return false;
    const extensions = payload[offset]!;
    offset++;
    if (extensions & 0x80) {
      // I: a PictureID, 15 bits when its first byte's M bit is set, else 7.
      if (payload.length < offset + 1) return false;
      offset += payload[offset]! & 0x80 ? 2 : 1;
    }
    if (extensions & 0x40) offset++; // L: TL0PICIDX
    if (extensions & 0x30) offset++; // T or K: one byte holds TID, Y and KEYIDX
  }
  if (payload.length < offset + 1) return false;
  return (payload[offset]! & 0x01) === 0;
}

/** The same test on a whole RTP packet. */
export function isVp8KeyframeStart(packet: Buffer): boolean {
  const payload = rtpPayload(packet);
  return payload !== undefined && isVp8KeyframeStartPayload(payload);
}
