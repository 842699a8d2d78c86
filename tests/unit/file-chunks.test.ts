import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  FILE_CHUNK_HEADER_BYTES,
  FILE_CHUNK_MAX_BYTES,
  FILE_CHUNK_PAYLOAD_BYTES,
  FileChunkError,
  decodeFileChunk,
  encodeFileChunk,
} from '../../shared/index.ts';

describe('file chunk header', () => {
  it('round-trips the file id, the offset and the payload', () => {
    const fileId = randomUUID();
    for (const offset of [0, 1, 16_384, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12_345, Number.MAX_SAFE_INTEGER]) {
      const payload = randomBytes(1 + (offset % FILE_CHUNK_PAYLOAD_BYTES));
      const message = encodeFileChunk(fileId, offset, payload);
      expect(message.byteLength).toBe(FILE_CHUNK_HEADER_BYTES + payload.length);
      const chunk = decodeFileChunk(message);
      expect(chunk.fileId).toBe(fileId);
      expect(chunk.offset).toBe(offset);
      expect(Buffer.from(chunk.payload).equals(payload)).toBe(true);
    }
  });

  it('lays out version, id and offset big-endian as documented', () => {
    const message = encodeFileChunk('00112233-4455-6677-8899-aabbccddeeff', 0x0102030405, Uint8Array.of(0xfe));
    expect(Buffer.from(message).toString('hex')).toBe(`01${'00112233445566778899aabbccddeeff'}${'0000000102030405'}fe`);
  });

  it('reads a chunk at any position in a larger buffer (a Node Buffer from a pool)', () => {
    const inner = encodeFileChunk(randomUUID(), 42, Uint8Array.of(1, 2, 3));
    const outer = Buffer.concat([Buffer.alloc(7), inner, Buffer.alloc(5)]).subarray(7, 7 + inner.byteLength);
    const chunk = decodeFileChunk(outer);
    expect(chunk.offset).toBe(42);
    expect([...chunk.payload]).toEqual([1, 2, 3]);
  });

  it('accepts an upper-case id and gives it back in lower case', () => {
    const fileId = randomUUID();
    expect(decodeFileChunk(encodeFileChunk(fileId.toUpperCase(), 0, Uint8Array.of(1))).fileId).toBe(fileId);
  });

  it('refuses to encode an empty or oversized payload, a bad offset or a non-UUID id', () => {
    const id = randomUUID();
    expect(() => encodeFileChunk(id, 0, new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeFileChunk(id, 0, new Uint8Array(FILE_CHUNK_PAYLOAD_BYTES + 1))).toThrow(RangeError);
    expect(() => encodeFileChunk(id, -1, Uint8Array.of(1))).toThrow(RangeError);
    expect(() => encodeFileChunk(id, 1.5, Uint8Array.of(1))).toThrow(RangeError);
    expect(() => encodeFileChunk(id, 2 ** 53, Uint8Array.of(1))).toThrow(RangeError);
    expect(() => encodeFileChunk('../../etc/passwd', 0, Uint8Array.of(1))).toThrow(RangeError);
  });

  it('refuses to decode what is not a chunk, saying why', () => {
    const good = encodeFileChunk(randomUUID(), 0, Uint8Array.of(1));
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(0), /too short/],
      [good.subarray(0, FILE_CHUNK_HEADER_BYTES), /too short/], // a header without payload
      [new Uint8Array(FILE_CHUNK_MAX_BYTES + 1).fill(1), /at most 16384 bytes/],
      [Uint8Array.from(good, (byte, i) => (i === 0 ? 2 : byte)), /version 2/],
      [Uint8Array.from(good, (byte, i) => (i === 17 ? 0x00 : i === 18 ? 0x20 : byte)), /beyond 2\^53/],
    ];
    for (const [message, reason] of cases) {
      expect(() => decodeFileChunk(message)).toThrow(FileChunkError);
      expect(() => decodeFileChunk(message)).toThrow(reason);
    }
  });
});
