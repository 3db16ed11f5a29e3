// Watches files for change by polling their status: unlike fs.watch, polling sees a file replaced
// by a rename (how certificates are usually rotated) and works on every file system.
import { unwatchFile, watchFile, type Stats } from "node:fs";

/** Calls `onChange` once per poll in which any of `paths` changed; returns the function that stops watching. */
export function watchFiles(paths: readonly string[], intervalMs: number, onChange: () => void): () => void {
  let pending = false;
  const listener = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
    // Several files of one rotation change within one poll: reload once for them.
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      onChange();
    }, intervalMs).unref();
  };
  for (const path of paths) watchFile(path, { interval: intervalMs, persistent: false }, listener);
  return () => {
    for (const path of paths) unwatchFile(path, listener);
  };
}
