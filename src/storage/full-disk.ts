// A log's full disk. When a write or sync finds no space, the log stops taking appends (they fail
// fast with StorageFullError and the "writable" event says false), its tail is cut back to the last
// committed record, and the directory's free space is probed until there is room again, when appends
// are taken again ("writable" true). Unlike any other write failure, which needs the log reopened, a
// full disk passes by itself: this is the state, timer and events of that passing condition, kept
// apart from the write path that meets it.
import { statfs } from "node:fs/promises";
import { constants } from "node:os";
import { StorageFullError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { GroupCommit } from "./group-commit.ts";

/** How often a log whose disk filled up looks for free space again. */
export const FREE_SPACE_PROBE_EVERY_MS = 250;
/** Free bytes a full log waits for before it takes writes again (a batch that needs more fails again, and waits again). */
const FREE_BYTES_TO_RESUME = 1024 * 1024;

/** Whether an errno says the disk is full or the quota spent: an operating condition that passes, not a fault. */
export function isNoSpace(errno: number): boolean {
  return errno === constants.errno.ENOSPC || errno === constants.errno.EDQUOT;
}

/** `error` from fs as a StorageFullError when it says the disk is full (ENOSPC, EDQUOT), else `error` itself. */
export function noSpaceAsStorageFull(error: unknown, what: string): unknown {
  const errno = Math.abs((error as NodeJS.ErrnoException).errno ?? 0);
  return isNoSpace(errno) ? new StorageFullError(what, errno, { cause: error }) : error;
}

/** Whether the filesystem of `directory` has room for appends again; false while it cannot be asked. */
export async function hasRoomAgain(directory: string): Promise<boolean> {
  const space = await statfs(directory).catch(() => undefined);
  return space !== undefined && space.bavail * space.bsize >= FREE_BYTES_TO_RESUME;
}

/** What a full disk needs of its log. */
export interface FullDiskLog {
  readonly directory: string;
  readonly logger: Logger;
  /** Whether the log is open: a probe that answers once it closes changes nothing. */
  isOpen(): boolean;
  /** Cuts everything readers do not see from the tail, durably, with no append written meanwhile (also after a failure). */
  cutBack(): Promise<void>;
  /** Appends stopped (false) or are taken again (true): the log's "writable" event. */
  writable(writable: boolean): void;
  /** The cut back failed: the log takes no more writes until it is reopened. */
  failed(error: unknown): void;
}

export class FullDisk {
  /** Set while the disk is full: appends fail fast until free space is seen again. */
  private full: StorageFullError | null = null;
  private freeSpaceProbe: NodeJS.Timeout | undefined;

  constructor(
    private readonly commits: Pick<GroupCommit, "resume">,
    private readonly log: FullDiskLog,
  ) {}

  /** Whether appends are refused because the disk is full. */
  get isFull(): boolean {
    return this.full !== null;
  }

  /** Throws StorageFullError while the disk is full. */
  checkNotFull(): void {
    if (this.full !== null) {
      throw new StorageFullError("the log's disk is full: writes resume once space is free", this.full.errno, { cause: this.full });
    }
  }

  /**
   * A write or sync of the open log found the disk full: appends are refused, the tail is cut back
   * (nothing acknowledged is touched), and once that is done the commits resume and free space is
   * probed. A second report while the disk is full changes nothing.
   */
  filled(error: StorageFullError): void {
    if (this.full !== null) return;
    this.full = error;
    this.log.logger.error("log disk full: appends refused until space is free", { directory: this.log.directory, error: error.message });
    this.log.writable(false);
    this.log
      .cutBack()
      .then(() => {
        this.commits.resume();
        this.freeSpaceProbe = setInterval(() => void this.probeFreeSpace(), FREE_SPACE_PROBE_EVERY_MS).unref();
      })
      .catch((cutFailure: unknown) => this.log.failed(cutFailure));
  }

  /** Stops probing (the log closes). */
  stop(): void {
    clearInterval(this.freeSpaceProbe);
  }

  private async probeFreeSpace(): Promise<void> {
    const room = await hasRoomAgain(this.log.directory);
    if (!room || this.full === null || !this.log.isOpen()) return;
    clearInterval(this.freeSpaceProbe);
    this.full = null;
    this.log.logger.info("log disk has free space again: appends resume", { directory: this.log.directory });
    this.log.writable(true);
  }
}
