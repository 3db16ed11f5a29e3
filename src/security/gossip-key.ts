// The cluster's gossip key (`--gossip-key FILE`): 32 bytes that seal every gossip datagram with
// AES-256-GCM (src/membership/gossip-seal.ts). The file holds the bytes themselves or their base64
// (`openssl rand -base64 32 > gossip.key`); every member of a cluster holds the same file.
import { readFile } from "node:fs/promises";
import { InvalidConfigError } from "../errors.ts";

export const GOSSIP_KEY_BYTES = 32;

/** Reads and checks the key in `path`: exactly 32 raw bytes, or base64 of 32 bytes (surrounding whitespace ignored). */
export async function readGossipKey(path: string): Promise<Buffer> {
  const content = await readFile(path).catch((error: unknown) => {
    throw new InvalidConfigError(`cannot read the gossip key ${path}: ${(error as Error).message}`);
  });
  if (content.length === GOSSIP_KEY_BYTES) return content;
  const text = content.toString("latin1").trim();
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, "base64") : Buffer.alloc(0);
  if (decoded.length !== GOSSIP_KEY_BYTES) throw new InvalidConfigError(`the gossip key ${path} must hold ${GOSSIP_KEY_BYTES} bytes, raw or base64 (openssl rand -base64 32)`);
  return decoded;
}
