// What the Raft state file needs from a file system: whole-file writes, fsync, rename and a
// directory fsync, each a separate step so that a crash between any two is possible. Production
// uses node:fs (nodeStateFileSystem); the simulator's twin (src/sim/sim-state-file-system.ts) loses
// whatever a crash finds unsynced: file contents not fsynced, renames whose directory was not.
import { open, readFile, rename, writeFile } from "node:fs/promises";
import { noSpaceAsStorageFull } from "../storage/full-disk.ts";
import { syncDirectory } from "../storage/group-commit.ts";

export interface StateFileSystem {
  /** The file's contents, or undefined when there is no file at `path`. */
  read(path: string): Promise<string | undefined>;
  /** Creates or replaces the file's contents; not durable until `sync`. */
  write(path: string, text: string): Promise<void>;
  /** Makes the file's contents durable (fsync). */
  sync(path: string): Promise<void>;
  /** Renames `from` over `to` atomically; not durable until the directory is synced. */
  rename(from: string, to: string): Promise<void>;
  /** Makes the renames and creations in `directory` durable. */
  syncDirectory(directory: string): Promise<void>;
}

export const nodeStateFileSystem: StateFileSystem = {
  async read(path) {
    try {
      return await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  },
  write: (path, text) =>
    writeFile(path, text).catch((error: unknown) => {
      throw noSpaceAsStorageFull(error, `write ${path}`);
    }),
  async sync(path) {
    const file = await open(path, "r+");
    try {
      await file.sync();
    } catch (error) {
      throw noSpaceAsStorageFull(error, `fsync ${path}`);
    } finally {
      await file.close();
    }
  },
  rename: (from, to) => rename(from, to),
  syncDirectory: (directory) => syncDirectory(directory),
};
