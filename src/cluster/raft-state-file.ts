// The Raft state that lives beside the data log: the hard state (term, vote, commit) and the start
// point of the log (the snapshot point: index, term and membership before the first entry).
//
// Written as a small JSON document by write-to-temporary, fsync, rename, fsync-directory, so that a
// crash leaves either the old or the new state, never a torn one. A vote is persisted this way
// before it is granted; the commit index rides along and alone never needs a sync.
import assert from "node:assert/strict";
import { open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { DataLossError } from "../errors.ts";
import { emptyHardState, type HardState, type SnapshotPoint } from "../raft/index.ts";
import { syncDirectory } from "../storage/group-commit.ts";

export interface RaftState {
  readonly hardState: HardState;
  readonly snapshot: SnapshotPoint;
  /** Where each member listens (node id → host:port), learned from membership changes and joins. */
  readonly addresses: Readonly<Record<string, string>>;
}

const FORMAT_VERSION = 1;

function isNatural(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((id) => isNatural(id) && id > 0);
}

function parseState(text: string, path: string): RaftState {
  const parsed = JSON.parse(text) as {
    version?: unknown;
    hardState?: Partial<HardState>;
    snapshot?: Partial<SnapshotPoint>;
    addresses?: Record<string, unknown>;
  };
  const { hardState, snapshot, addresses } = parsed;
  const valid =
    parsed.version === FORMAT_VERSION &&
    hardState !== undefined &&
    isNatural(hardState.term) &&
    isNatural(hardState.vote) &&
    isNatural(hardState.commit) &&
    snapshot !== undefined &&
    isNatural(snapshot.index) &&
    isNatural(snapshot.term) &&
    isIdList(snapshot.membership?.voters) &&
    isIdList(snapshot.membership?.learners) &&
    typeof addresses === "object" &&
    addresses !== null &&
    Object.values(addresses).every((address) => typeof address === "string");
  if (!valid) throw new DataLossError(`raft state file ${path} is malformed`);
  return { hardState: hardState as HardState, snapshot: snapshot as SnapshotPoint, addresses: addresses as Record<string, string> };
}

export class RaftStateFile {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private current: RaftState,
    /** Whether a state was read from disk (a node that has never written one is new). */
    readonly existed: boolean,
  ) {}

  /** Reads the state at `path`, or starts from `initial` (not yet written) when there is none. */
  static async open(path: string, initial: Omit<RaftState, "hardState">): Promise<RaftStateFile> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      return new RaftStateFile(path, { hardState: emptyHardState, ...initial }, false);
    }
    return new RaftStateFile(path, parseState(text, path), true);
  }

  get state(): RaftState {
    return this.current;
  }

  /**
   * Replaces the given parts of the state durably; resolves once it would survive a crash. Updates
   * are written one at a time, in call order, each with everything updated before it.
   */
  update(patch: Partial<RaftState>): Promise<void> {
    const write = this.writing.then(() => this.write({ ...this.current, ...patch }));
    this.writing = write.catch(() => undefined);
    return write;
  }

  /** Resolves once every update called so far has been written (or has failed). */
  settled(): Promise<void> {
    return this.writing;
  }

  private async write(state: RaftState): Promise<void> {
    assert.ok(state.hardState.term >= this.current.hardState.term, "the term never goes back");
    const temporary = `${this.path}.tmp`;
    const file = await open(temporary, "w");
    try {
      await file.writeFile(JSON.stringify({ version: FORMAT_VERSION, ...state }));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, this.path);
    await syncDirectory(dirname(this.path));
    this.current = state;
  }
}
