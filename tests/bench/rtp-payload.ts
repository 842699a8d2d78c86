/** Where an RTP packet's payload starts and ends (RFC 3550 §5.1), past CSRCs, header extensions and padding. */

const FIXED_HEADER = 12;

/**
 * The payload of an RTP packet, as a view into it (no copy: the sink calls this per packet); undefined
 * when the header says more than the packet holds.
 */
export function rtpPayload(packet: Buffer): Buffer | undefined {
  if (packet.length < FIXED_HEADER) return undefined;
  const first = packet[0]!;
  const hasPadding = (first & 0x20) !== 0;
  const hasExtension = (first & 0x10) !== 0;
  const csrcCount = first & 0x0f;
  let start = FIXED_HEADER + 4 * csrcCount;
  if (hasExtension) {
    // 16-bit profile, then the extension's length in 32-bit words, not counting this 4-byte header.
    if (packet.length < start + 4) return undefined;
    start += 4 + 4 * packet.readUInt16BE(start + 2);
  }
  let end = packet.length;
  if (hasPadding) end -= packet[packet.length - 1]!;
  return start <= end ? packet.subarray(start, end) : undefined;
}
