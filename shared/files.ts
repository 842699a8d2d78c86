/**
 * File sharing: what a shared file looks like to everyone in the room, and the data channels that
 * carry it. The sender uploads once, over a reliable ordered data channel to the SFU; the SFU keeps
 * the file for the room and sends it to each receiver on that receiver's own channel, at its pace.
 * Control (offer, cancel, fetch) goes over signaling; the chunk format is in `file-chunks.ts`.
 */
import { z } from 'zod';

/** Who may share files in a meeting: everyone, or only hosts and co-hosts. Webinars: the stage. */
export const FILE_SHARING_POLICIES = ['everyone', 'hosts'] as const;
export type FileSharingPolicy = (typeof FILE_SHARING_POLICIES)[number];

/** The label of both data channels; the server refuses an upload channel with another. */
export const FILE_CHANNEL_LABEL = 'roundtable-files';

/** `uploading`: receivers may already fetch it, and get what is stored as it arrives. */
export type SharedFileState = 'uploading' | 'available';

export interface SharedFileInfo {
  id: string;
  /** Cleaned by the server: no path, no control or bidi characters, a sane length. Show as text only. */
  name: string;
  /** Bytes, as the sender declared it; the upload may not exceed it, and completes when it is reached. */
  size: number;
  peerId: string;
  /** The sender's name when they shared it; the file stays after they leave. */
  displayName: string;
  sharedAt: number;
  state: SharedFileState;
  /** Hex SHA-256 of the whole file, computed by the server as it stored it; set once available. */
  sha256?: string;
}

/**
 * Why a file left the room: its sender cancelled (or removed) it, a host removed it, its sender left
 * before it was uploaded, or its upload failed.
 */
export type FileCancelReason = 'cancelled' | 'removed' | 'sender-left' | 'failed';

/** Which half of a transfer failed for this client: its own upload, or its own download. */
export type FileTransferDirection = 'upload' | 'download';

/** Operator limits the client checks before it starts (the server enforces them anyway). */
export interface FileLimits {
  enabled: boolean;
  maxFileBytes: number;
}

/** What a client needs to open its side of the receive channel (`transport.consumeData`). */
export interface FileDownloadChannel {
  id: string;
  dataProducerId: string;
  sctpStreamParameters: { streamId: number; ordered?: boolean; maxPacketLifeTime?: number; maxRetransmits?: number };
  label: string;
  protocol: string;
}

export const fileIdSchema = z.uuid('not a file id');

/** The name as the sender's browser gave it; the server cleans it, so only its size is bounded here. */
export const offeredFileNameSchema = z.string().min(1, 'a file name is required').max(1024, 'at most 1024 characters');

/** An upload must be reliable and ordered: offsets are checked to be contiguous. */
export const fileUploadStreamSchema = z.strictObject({
  streamId: z.number().int().min(0).max(65534),
  ordered: z.literal(true, 'the file channel must be ordered and reliable'),
});

/** "512 B", "16 KiB", "5.2 MiB", "1.5 GiB": sizes as people read them, the same in messages and the UI. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 || Number.isInteger(value) ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}
