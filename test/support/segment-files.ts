// Paths of a segment's files, and ways to damage them on purpose.
import { open } from "node:fs/promises";
import { join } from "node:path";

export function segmentFile(dir: string, baseOffset: number, suffix: ".store" | ".index" | ".runindex"): string {
  return join(dir, String(baseOffset).padStart(20, "0") + suffix);
}

export async function overwrite(path: string, position: number, bytes: Buffer): Promise<void> {
  const file = await open(path, "r+");
  await file.write(bytes, 0, bytes.length, position);
  await file.close();
}

export async function flipByte(path: string, position: number): Promise<void> {
  const file = await open(path, "r+");
  const byte = Buffer.alloc(1);
  await file.read(byte, 0, 1, position);
  byte[0] = byte[0]! ^ 0x40;
  await file.write(byte, 0, 1, position);
  await file.close();
}
