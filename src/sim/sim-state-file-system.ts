// The Raft state file's file system (src/cluster/state-file-system.ts) on a simulated disk. Files
// are inodes named by a directory; a crash keeps a file's contents only as far as they were synced
// (unsynced contents may survive whole, in part, or not at all) and keeps the directory's names
// (creations, renames) only as they were at the last directory sync, unless the directory happened
// to be written back. So a crash can leave entries in the log but not the term and vote beside them.
import type { StateFileSystem } from "../cluster/state-file-system.ts";
import type { SeededRandom } from "../raft/random.ts";
import { completionsInCallOrder, type DiskEnvironment } from "./sim-log.ts";

interface Inode {
  data: string;
  /** Contents as of the last fsync. */
  synced: string;
}

export class SimStateFileSystem {
  /** The directory as processes see it: name → inode. */
  private live = new Map<string, Inode>();
  /** The directory as of its last sync: what a crash leaves. */
  private durable = new Map<string, Inode>();

  constructor(private readonly latencyMaxMs: number) {}

  /** The file system as one process uses it: each step completes after a latency, in call order. */
  forProcess(environment: DiskEnvironment): StateFileSystem {
    const nextCompletionMs = completionsInCallOrder(environment, this.latencyMaxMs);
    const step = <T>(run: () => T): Promise<T> => new Promise<T>((resolve) => environment.schedule(nextCompletionMs(), () => resolve(run())));
    return {
      read: (path) => step(() => this.live.get(path)?.data),
      write: (path, text) =>
        step(() => {
          const inode = this.live.get(path);
          if (inode === undefined) this.live.set(path, { data: text, synced: "" });
          else inode.data = text;
        }),
      sync: (path) =>
        step(() => {
          const inode = this.live.get(path);
          if (inode !== undefined) inode.synced = inode.data;
        }),
      rename: (from, to) =>
        step(() => {
          const inode = this.live.get(from);
          if (inode === undefined) throw new Error(`ENOENT: rename ${from}`);
          this.live.set(to, inode);
          this.live.delete(from);
        }),
      syncDirectory: () =>
        step(() => {
          this.durable = new Map(this.live);
        }),
    };
  }

  /**
   * A power loss: the directory comes back as last synced (or, by chance, as last written back), and
   * each file keeps its synced contents, or by chance its newer ones, whole or torn.
   */
  crash(random: SeededRandom): void {
    if (!random.chance(0.3)) this.live = new Map(this.durable);
    for (const inode of new Set(this.live.values())) {
      if (inode.data === inode.synced) continue;
      const roll = random.intBelow(3);
      if (roll === 0) inode.data = inode.synced;
      else if (roll === 1) inode.data = inode.data.slice(0, random.intBelow(inode.data.length + 1));
      inode.synced = inode.data;
    }
    this.durable = new Map(this.live);
  }
}
