// A fresh directory per test, removed when the test ends.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { cleanup } from "./cleanup.ts";

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "loghouse-test-"));
  cleanup(t, () => rm(dir, { recursive: true, force: true }));
  return dir;
}
