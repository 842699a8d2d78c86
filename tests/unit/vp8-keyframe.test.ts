import { describe, expect, it } from 'vitest';
import { rtpPayload } from '../bench/rtp-payload.ts';
import { isVp8KeyframeStart, isVp8KeyframeStartPayload } from '../bench/vp8-keyframe.ts';

/** A VP8 payload header's first byte: P (the lowest bit) is 0 on a keyframe. */
const KEY = 0x9d & ~0x01;
const INTER = 0x9d | 0x01;

function rtp(payload: number[], options: { csrcs?: number; extensionWords?: number; padding?: number } = {}): Buffer {
  const { csrcs = 0, extensionWords, padding = 0 } = options;
  const header = [0x80 | (padding ? 0x20 : 0) | (extensionWords !== undefined ? 0x10 : 0) | csrcs, 101, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4];
  for (let i = 0; i < csrcs; i++) header.push(9, 9, 9, 9);
  if (extensionWords !== undefined) {
    header.push(0xbe, 0xde, 0, extensionWords);
    for (let i = 0; i < extensionWords * 4; i++) header.push(0xff);
  }
  const tail = padding ? [...Array<number>(padding - 1).fill(0), padding] : [];
  return Buffer.from([...header, ...payload, ...tail]);
}

describe('isVp8KeyframeStartPayload', () => {
  it('finds the keyframe start after a 15-bit PictureID, as ffmpeg packetizes', () => {
    expect(isVp8KeyframeStartPayload(Buffer.from([0x90, 0x80, 0x80 | 0x12, 0x34, KEY, 0, 0]))).toBe(true);
    expect(isVp8KeyframeStartPayload(Buffer.from([0x90, 0x80, 0x80 | 0x12, 0x34, INTER, 0, 0]))).toBe(false);
  });

  it('skips a 7-bit PictureID, TL0PICIDX and the TID/KEYIDX byte', () => {
    expect(isVp8KeyframeStartPayload(Buffer.from([0x90, 0x80 | 0x40 | 0x20, 0x05, 0x07, 0x40, KEY]))).toBe(true);
    expect(isVp8KeyframeStartPayload(Buffer.from([0x90, 0x80 | 0x40 | 0x20, 0x05, 0x07, 0x40, INTER]))).toBe(false);
    expect(isVp8KeyframeStartPayload(Buffer.from([0x90, 0x10, 0x40, KEY]))).toBe(true); // K alone
  });

  it('reads the payload header right after a one-byte descriptor', () => {
    expect(isVp8KeyframeStartPayload(Buffer.from([0x10, KEY]))).toBe(true);
    expect(isVp8KeyframeStartPayload(Buffer.from([0x10, INTER]))).toBe(false);
  });

  it('needs the start of partition 0', () => {
    expect(isVp8KeyframeStartPayload(Buffer.from([0x00, KEY]))).toBe(false); // S = 0: a middle packet
    expect(isVp8KeyframeStartPayload(Buffer.from([0x11, KEY]))).toBe(false); // PID 1
  });

  it('says no to truncated payloads', () => {
    expect(isVp8KeyframeStartPayload(Buffer.alloc(0))).toBe(false);
    expect(isVp8KeyframeStartPayload(Buffer.from([0x90, 0x80, 0x80]))).toBe(false);
  });
});

describe('rtpPayload', () => {
  it('skips CSRCs and a header extension, and drops padding', () => {
    const packet = rtp([0x10, KEY, 7], { csrcs: 2, extensionWords: 2, padding: 4 });
    expect([...rtpPayload(packet)!]).toEqual([0x10, KEY, 7]);
    expect(isVp8KeyframeStart(packet)).toBe(true);
  });

  it('rejects a header longer than the packet', () => {
    expect(rtpPayload(Buffer.from([0x90, 101, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 0xbe, 0xde, 0, 9]))).toBeUndefined();
    expect(isVp8KeyframeStart(Buffer.from([0x80, 101, 0]))).toBe(false);
  });
});
