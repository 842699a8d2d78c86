/**
 * The data half of file sharing for tests that run in Node, where there are no WebRTC data channels:
 * a DirectTransport on the peer's own router stands in for its browser. Its DataProducer is handed to
 * the room as the peer's upload channel, and the peer's download channel is consumed on it, so every
 * chunk still goes through the mediasoup worker and the server's own checks. Signaling (offer, fetch,
 * cancel) goes through the real Socket.IO connection as usual.
 */
import { createHash } from 'node:crypto';
import type { types } from 'mediasoup';
import { FILE_CHUNK_PAYLOAD_BYTES, decodeFileChunk, encodeFileChunk } from '../../shared/index.ts';
import type { Room } from '../../sfu/src/rooms/Room.ts';

export interface UploadEnd {
  producer: types.DataProducer;
  /** Sends one chunk as a browser would: header and payload, binary. */
  chunk(fileId: string, offset: number, payload: Uint8Array): void;
  /** Sends a whole buffer from `from`, in 16 KiB chunks. */
  all(fileId: string, bytes: Buffer, from?: number): void;
  /** Anything at all, as a broken or hostile client could send. */
  raw(message: Buffer | string): void;
  close(): void;
}

export interface DownloadEnd {
  /** Payload bytes received per file, in arrival order (offsets checked). */
  received: Map<string, Buffer[]>;
  /** Where each file's received bytes start (0 unless fetched from an offset). */
  startOf: Map<string, number>;
  /** Chunks whose offset did not continue the file. */
  outOfOrder: number;
  bytes(fileId: string): Buffer;
  waitForBytes(fileId: string, length: number, timeoutMs?: number): Promise<Buffer>;
  close(): void;
}

function peerOf(room: Room, peerId: string) {
  const peer = room.peers.get(peerId);
  if (!peer) throw new Error(`no peer ${peerId} in room ${room.id}`);
  return peer;
}

export async function openUploadEnd(room: Room, peerId: string): Promise<UploadEnd> {
  const peer = peerOf(room, peerId);
  const transport = await peer.router.createDirectTransport();
  const producer = await transport.produceData({ label: 'roundtable-files' });
  producer.observer.once('close', () => transport.close());
  await room.files.attachUpload(peer, producer);
  const chunk = (fileId: string, offset: number, payload: Uint8Array) => {
    const message = encodeFileChunk(fileId, offset, payload);
    producer.send(Buffer.from(message.buffer, message.byteOffset, message.byteLength));
  };
  return {
    producer,
    chunk,
    all(fileId, bytes, from = 0) {
      for (let at = from; at < bytes.length; at += FILE_CHUNK_PAYLOAD_BYTES) {
        chunk(fileId, at, bytes.subarray(at, Math.min(at + FILE_CHUNK_PAYLOAD_BYTES, bytes.length)));
      }
    },
    raw: (message) => producer.send(message),
    close: () => transport.close(),
  };
}

export async function openDownloadEnd(room: Room, peerId: string): Promise<DownloadEnd> {
  const peer = peerOf(room, peerId);
  const transport = await peer.router.createDirectTransport();
  const counts = new Map<string, number>();
  const end: DownloadEnd = {
    received: new Map(),
    startOf: new Map(),
    outOfOrder: 0,
    bytes: (fileId) => Buffer.concat(end.received.get(fileId) ?? []),
    async waitForBytes(fileId, length, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while ((counts.get(fileId) ?? 0) < length) {
        if (Date.now() > deadline) throw new Error(`only ${counts.get(fileId) ?? 0} of ${length} bytes of ${fileId} arrived`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return end.bytes(fileId);
    },
    close: () => transport.close(),
  };
  transport.observer.on('newdataconsumer', (consumer) => {
    consumer.on('message', (message) => {
      const { fileId, offset, payload } = decodeFileChunk(message);
      const parts = end.received.get(fileId) ?? [];
      // The first chunk may start anywhere (a fetch from an offset); then they must follow on.
      if (parts.length === 0) end.startOf.set(fileId, offset);
      const have = (end.startOf.get(fileId) ?? 0) + (counts.get(fileId) ?? 0);
      if (offset !== have) {
        end.outOfOrder++;
        return;
      }
      parts.push(Buffer.from(payload));
      counts.set(fileId, (counts.get(fileId) ?? 0) + payload.length);
      end.received.set(fileId, parts);
    });
  });
  await room.files.attachDownload(peer, transport);
  return end;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
