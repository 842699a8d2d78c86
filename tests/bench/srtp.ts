/**
 * SRTP decryption for the RTP sink, with Node's crypto: the RFC 3711 key derivation (AES-CM PRF, key
 * derivation rate 0), the RFC 7714 AEAD_AES_256_GCM / AEAD_AES_128_GCM transforms and the RFC 3711
 * AES_CM_128_HMAC_SHA1_80 one. No MKI, and SRTP only (not SRTCP): the sink reads media, not reports.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SRTP_SUITES = ['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80'] as const;
export type SrtpSuite = (typeof SRTP_SUITES)[number];

/** What mediasoup takes and gives as SrtpParameters: a suite and its master key followed by the master salt. */
export interface SrtpKey {
  cryptoSuite: SrtpSuite;
  keyBase64: string;
}

interface SuiteLengths {
  /** Master (and session) cipher key, bytes. */
  key: number;
  /** Master (and session) salt, bytes. */
  salt: number;
  /** Authentication tag at the end of each packet, bytes. */
  tag: number;
  /** Session authentication key (HMAC-SHA1), bytes; 0 for AEAD suites, which authenticate with GCM. */
  authKey: number;
}

const LENGTHS: Record<SrtpSuite, SuiteLengths> = {
  AEAD_AES_256_GCM: { key: 32, salt: 12, tag: 16, authKey: 0 },
  AEAD_AES_128_GCM: { key: 16, salt: 12, tag: 16, authKey: 0 },
  AES_CM_128_HMAC_SHA1_80: { key: 16, salt: 14, tag: 10, authKey: 20 },
};

/** Master key + salt bytes of a suite: 44, 28 and 30. */
export function masterKeyLength(suite: SrtpSuite): number {
  return LENGTHS[suite].key + LENGTHS[suite].salt;
}

/** A fresh random master key and salt for a suite, as mediasoup's connect() takes it. */
export function randomSrtpKey(suite: SrtpSuite): SrtpKey {
  return { cryptoSuite: suite, keyBase64: randomBytes(masterKeyLength(suite)).toString('base64') };
}

export function isSrtpSuite(value: string): value is SrtpSuite {
  return (SRTP_SUITES as readonly string[]).includes(value);
}

export class SrtpError extends Error {
  override name = 'SrtpError';
}

const LABEL_CIPHER_KEY = 0x00;
const LABEL_AUTH_KEY = 0x01;
const LABEL_SALT = 0x02;
/** The PRF's input is 112 bits (RFC 3711 §4.3.1); a 96-bit AEAD master salt is padded with zeros (RFC 7714 §11). */
const PRF_SALT_BYTES = 14;

const aesCtr = (key: Buffer): string => (key.length === 32 ? 'aes-256-ctr' : 'aes-128-ctr');
const aesGcm = (key: Buffer): 'aes-256-gcm' | 'aes-128-gcm' => (key.length === 32 ? 'aes-256-gcm' : 'aes-128-gcm');

/**
 * The AES-CM PRF with r = 0 (key derivation rate 0): x = label at byte 7 of the 14-byte master salt,
 * keystream from the counter block x || 00 00, cut to `length` bytes.
 */
function deriveSessionBytes(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  const block = Buffer.alloc(16);
  masterSalt.copy(block, 0, 0, Math.min(masterSalt.length, PRF_SALT_BYTES));
  block[7]! ^= label;
  const cipher = createCipheriv(aesCtr(masterKey), masterKey, block);
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]).subarray(0, length);
}

/** The session keys of one direction of one SRTP session (one transport's sending side). */
export interface SrtpSessionKeys {
  suite: SrtpSuite;
  cipherKey: Buffer;
  salt: Buffer;
  /** Empty for the AEAD suites. */
  authKey: Buffer;
}

export function deriveSessionKeys(key: SrtpKey): SrtpSessionKeys {
  const lengths = LENGTHS[key.cryptoSuite];
  if (!lengths) throw new SrtpError(`unknown SRTP suite "${String(key.cryptoSuite)}"`);
  const master = Buffer.from(key.keyBase64, 'base64');
  if (master.length !== lengths.key + lengths.salt) {
    throw new SrtpError(`${key.cryptoSuite} needs ${lengths.key + lengths.salt} bytes of master key and salt, got ${master.length}`);
  }
  const masterKey = master.subarray(0, lengths.key);
  const masterSalt = master.subarray(lengths.key);
  return {
    suite: key.cryptoSuite,
    cipherKey: deriveSessionBytes(masterKey, masterSalt, LABEL_CIPHER_KEY, lengths.key),
    salt: deriveSessionBytes(masterKey, masterSalt, LABEL_SALT, lengths.salt),
    authKey: lengths.authKey > 0 ? deriveSessionBytes(masterKey, masterSalt, LABEL_AUTH_KEY, lengths.authKey) : Buffer.alloc(0),
  };
}

/** Length of the RTP header: fixed part, CSRCs and header extension (RFC 3550 §5.1, §5.3.1). */
export function rtpHeaderLength(packet: Buffer): number {
  if (packet.length < 12) throw new SrtpError('shorter than an RTP header');
  let length = 12 + 4 * (packet[0]! & 0x0f);
  if (packet[0]! & 0x10) {
    if (packet.length < length + 4) throw new SrtpError('RTP header extension cut short');
    length += 4 + 4 * packet.readUInt16BE(length + 2);
  }
  if (length > packet.length) throw new SrtpError('RTP header longer than the packet');
  return length;
}

/** RFC 7714 §8.1: 00 00 || SSRC || ROC || SEQ, XOR the 12-byte session salt. */
function gcmIv(salt: Buffer, ssrc: number, roc: number, seq: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(ssrc, 2);
  iv.writeUInt32BE(roc >>> 0, 6);
  iv.writeUInt16BE(seq, 10);
  for (let i = 0; i < 12; i++) iv[i]! ^= salt[i]!;
  return iv;
}

/** RFC 3711 §4.1.1: salt·2^16 XOR SSRC·2^64 XOR index·2^16, the 48-bit index being ROC || SEQ. */
function ctrIv(salt: Buffer, ssrc: number, roc: number, seq: number): Buffer {
  const iv = Buffer.alloc(16);
  salt.copy(iv, 0, 0, 14);
  iv[4]! ^= ssrc >>> 24;
  iv[5]! ^= (ssrc >>> 16) & 0xff;
  iv[6]! ^= (ssrc >>> 8) & 0xff;
  iv[7]! ^= ssrc & 0xff;
  iv[8]! ^= (roc >>> 24) & 0xff;
  iv[9]! ^= (roc >>> 16) & 0xff;
  iv[10]! ^= (roc >>> 8) & 0xff;
  iv[11]! ^= roc & 0xff;
  iv[12]! ^= seq >>> 8;
  iv[13]! ^= seq & 0xff;
  return iv;
}

/**
 * Decrypts one SRTP packet, given its rollover counter (the sender's count of sequence-number wraps
 * for this SSRC). Returns the RTP packet with a plaintext payload and without the tag; throws SrtpError
 * when the packet does not authenticate (wrong key, wrong ROC, or damage).
 */
export function decryptSrtp(keys: SrtpSessionKeys, packet: Buffer, roc: number): Buffer {
  const { tag: tagLength } = LENGTHS[keys.suite];
  const headerLength = rtpHeaderLength(packet);
  if (packet.length < headerLength + tagLength) throw new SrtpError('too short for its header and authentication tag');
  const header = packet.subarray(0, headerLength);
  const body = packet.subarray(headerLength, packet.length - tagLength);
  const tag = packet.subarray(packet.length - tagLength);
  const seq = packet.readUInt16BE(2);
  const ssrc = packet.readUInt32BE(8);

  if (keys.authKey.length === 0) {
    const decipher = createDecipheriv(aesGcm(keys.cipherKey), keys.cipherKey, gcmIv(keys.salt, ssrc, roc, seq), {
      authTagLength: tagLength,
    });
    decipher.setAAD(header);
    decipher.setAuthTag(tag);
    const plain = decipher.update(body);
    try {
      decipher.final();
    } catch {
      throw new SrtpError(`SSRC ${ssrc} seq ${seq}: GCM authentication failed`);
    }
    return Buffer.concat([header, plain]);
  }

  // AES_CM_128_HMAC_SHA1_80: authenticate header || encrypted payload || ROC, then decrypt.
  const rocBytes = Buffer.alloc(4);
  rocBytes.writeUInt32BE(roc >>> 0);
  const expected = createHmac('sha1', keys.authKey)
    .update(packet.subarray(0, packet.length - tagLength))
    .update(rocBytes)
    .digest()
    .subarray(0, tagLength);
  if (!timingSafeEqual(expected, tag)) throw new SrtpError(`SSRC ${ssrc} seq ${seq}: HMAC-SHA1 authentication failed`);
  const decipher = createDecipheriv(aesCtr(keys.cipherKey), keys.cipherKey, ctrIv(keys.salt, ssrc, roc, seq));
  return Buffer.concat([header, decipher.update(body), decipher.final()]);
}
