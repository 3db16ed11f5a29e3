// Authenticated encryption of gossip datagrams with a cluster-wide key (AES-256-GCM, as memberlist's
// keyring does): only holders of the key can join, forge or read gossip. A sealed datagram is
//
//   u8 version (1), 12-byte random nonce, ciphertext, 16-byte GCM tag   (the version byte is authenticated)
//
// Without a key (loopback, or an explicit --insecure) a datagram is u8 version 0 and the plaintext, so a
// node never mistakes one kind for the other: a keyed node drops plaintext and the other way round.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const PLAIN_VERSION = 0;
const SEALED_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const GOSSIP_KEY_BYTES = 32;
/** What sealing adds to a payload: version, nonce and tag. */
export const SEAL_OVERHEAD_BYTES = 1 + NONCE_BYTES + TAG_BYTES;

/** Seals payloads under `key` (32 bytes), or frames them as plaintext when `key` is undefined. */
export class GossipSeal {
  constructor(private readonly key: Buffer | undefined) {
    if (key !== undefined && key.length !== GOSSIP_KEY_BYTES) throw new RangeError(`a gossip key is ${GOSSIP_KEY_BYTES} bytes, got ${key.length}`);
  }

  seal(payload: Uint8Array): Buffer {
    if (this.key === undefined) return Buffer.concat([Buffer.of(PLAIN_VERSION), payload]);
    const head = Buffer.concat([Buffer.of(SEALED_VERSION), randomBytes(NONCE_BYTES)]);
    const cipher = createCipheriv("aes-256-gcm", this.key, head.subarray(1));
    cipher.setAAD(head.subarray(0, 1));
    return Buffer.concat([head, cipher.update(payload), cipher.final(), cipher.getAuthTag()]);
  }

  /** The payload, or undefined when the datagram is not one this node's key (or lack of one) accepts. */
  open(datagram: Uint8Array): Buffer | undefined {
    const bytes = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
    if (this.key === undefined) return bytes[0] === PLAIN_VERSION && bytes.length > 1 ? bytes.subarray(1) : undefined;
    if (bytes[0] !== SEALED_VERSION || bytes.length <= SEAL_OVERHEAD_BYTES) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, bytes.subarray(1, 1 + NONCE_BYTES));
      decipher.setAAD(bytes.subarray(0, 1));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(1 + NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
    } catch {
      return undefined;
    }
  }
}
