// Paths of a segment's files, for tests that damage them on purpose.
import { join } from "node:path";

export function segmentFile(dir: string, baseOffset: number, suffix: ".store" | ".index" | ".runindex"): string {
  return join(dir, String(baseOffset).padStart(20, "0") + suffix);
}
