// `mkdir -p`, made by hand: Node's own recursive mkdir spins for good (at full CPU, never returning)
// under a directory that refuses new entries with ENOENT while its parent exists (a path under
// /proc, say), where a node must fail at once with the reason.
import { mkdir, stat } from "node:fs/promises";
import { dirname } from "node:path";

/** Creates `path` and any missing parents; resolves if it is a directory already, else rejects with the failure of the first that could not be made. */
export async function makeDirectory(path: string): Promise<void> {
  try {
    await makeOne(path);
  } catch (error) {
    const parent = dirname(path);
    if ((error as NodeJS.ErrnoException).code !== "ENOENT" || parent === path) throw error;
    await makeDirectory(parent);
    // Refused again (the parent takes no entries) is the answer.
    await makeOne(path);
  }
}

/** Creates `path`; resolves if it is a directory already (made by another meanwhile is as good). */
async function makeOne(path: string): Promise<void> {
  try {
    await mkdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST" || !(await stat(path)).isDirectory()) throw error;
  }
}
