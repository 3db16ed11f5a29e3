// A small filesystem a test can fill: a tmpfs mounted on a directory (needs root; tests skip without it).
import { spawnSync } from "node:child_process";

/** Mounts a tmpfs of `mib` MiB (and at most `files` files and directories, if given) on `dir`; returns why it could not, or undefined. */
export function mountTmpfs(dir: string, mib: number, files?: number): string | undefined {
  const options = files === undefined ? `size=${mib}m` : `size=${mib}m,nr_inodes=${files}`;
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { encoding: "utf8" });
  if (mounted.error !== undefined) return mounted.error.message;
  return mounted.status === 0 ? undefined : `mount exited ${mounted.status}: ${mounted.stderr.trim()}`;
}
