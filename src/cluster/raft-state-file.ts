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
}

const FORMAT_VERSION = 1;

function isNatural(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((id) => isNatural(id) && id > 0);
}

function parseState(text: string, path: string): RaftState {
  const parsed = JSON.parse(text) as { version?: unknown; hardState?: Partial<HardState>; snapshot?: Partial<SnapshotPoint> };
  const { hardState, snapshot } = parsed;
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
    isIdList(snapshot.membership?.learners);
  if (!valid) throw new DataLossError(`raft state file ${path} is malformed`);
  return { hardState: hardState as HardState, snapshot: snapshot as SnapshotPoint };
}

export class RaftStateFile {
  private constructor(
    readonly path: string,
    private current: RaftState,
  ) {}

  /** Reads the state at `path`, or starts from `initial` (not yet written) when there is none. */
  static async open(path: string, initial: SnapshotPoint): Promise<RaftStateFile> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      return new RaftStateFile(path, { hardState: emptyHardState, snapshot: initial });
    }
    return new RaftStateFile(path, parseState(text, path));
  }

  get state(): RaftState {
    return this.current;
  }

  /** Whether a state was ever written (a node that has never written one has no existing state). */
  async exists(): Promise<boolean> {
    return readFile(this.path).then(
      () => true,
      () => false,
    );
  }

  /** Replaces the state durably; resolves once it would survive a crash. */
  async save(state: RaftState): Promise<void> {
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
