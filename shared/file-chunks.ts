/**
 * One message on a file data channel, both ways (sender → SFU, SFU → receiver):
 *
 *   byte 0       format version (1)
 *   bytes 1-16   file id: the 16 bytes of its UUID
 *   bytes 17-24  byte offset of the payload in the file, unsigned 64-bit big-endian (< 2^53)
 *   bytes 25-    payload: 1 to 16 KiB of the file
 *
 * 16 KiB is the payload size every browser sends and receives in one SCTP message without trouble.
 * The header names the file so that one channel carries any number of files, and the offset lets
 * each end check that nothing was lost, repeated or reordered.
 */
export const FILE_CHUNK_VERSION = 1;
export const FILE_CHUNK_HEADER_BYTES = 25;
export const FILE_CHUNK_PAYLOAD_BYTES = 16 * 1024;
export const FILE_CHUNK_MAX_BYTES = FILE_CHUNK_HEADER_BYTES + FILE_CHUNK_PAYLOAD_BYTES;

const TWO_32 = 2 ** 32;
const UUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/;

export interface FileChunk {
  fileId: string;
  offset: number;
  /** A view into the message, not a copy. */
  payload: Uint8Array;
}

/** A message that is not a well-formed chunk; `message` says what is wrong with it. */
export class FileChunkError extends Error {
  override name = 'FileChunkError';
}

export function encodeFileChunk(fileId: string, offset: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  if (payload.byteLength < 1 || payload.byteLength > FILE_CHUNK_PAYLOAD_BYTES) {
    throw new RangeError(`a chunk carries 1 to ${FILE_CHUNK_PAYLOAD_BYTES} bytes, not ${payload.byteLength}`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`bad chunk offset ${offset}`);
  const message = new Uint8Array(FILE_CHUNK_HEADER_BYTES + payload.byteLength);
  const view = new DataView(message.buffer);
  view.setUint8(0, FILE_CHUNK_VERSION);
  message.set(uuidBytes(fileId), 1);
  view.setUint32(17, Math.floor(offset / TWO_32));
  view.setUint32(21, offset % TWO_32);
  message.set(payload, FILE_CHUNK_HEADER_BYTES);
  return message;
}

/** Reads a chunk; throws FileChunkError for anything else (wrong version, too short or too long). */
export function decodeFileChunk(message: Uint8Array): FileChunk {
  if (message.byteLength <= FILE_CHUNK_HEADER_BYTES) throw new FileChunkError(`a ${message.byteLength}-byte message is too short for a chunk`);
  if (message.byteLength > FILE_CHUNK_MAX_BYTES) {
    throw new FileChunkError(`a chunk carries at most ${FILE_CHUNK_PAYLOAD_BYTES} bytes, this one ${message.byteLength - FILE_CHUNK_HEADER_BYTES}`);
  }
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const version = view.getUint8(0);
  if (version !== FILE_CHUNK_VERSION) throw new FileChunkError(`unknown chunk format version ${version}`);
  const high = view.getUint32(17);
  if (high >= 2 ** 21) throw new FileChunkError('chunk offset beyond 2^53');
  return {
    fileId: uuidString(message.subarray(1, 17)),
    offset: high * TWO_32 + view.getUint32(21),
    payload: message.subarray(FILE_CHUNK_HEADER_BYTES),
  };
}

function uuidBytes(id: string): Uint8Array {
  const match = UUID.exec(id.toLowerCase());
  if (!match) throw new RangeError(`"${id}" is not a UUID`);
  const hex = match.slice(1).join('');
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

function uuidString(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
