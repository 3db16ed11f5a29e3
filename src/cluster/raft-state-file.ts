// The Raft state that lives beside the data log: the hard state (term, vote, commit), the start
// point of the log (the snapshot point: index, term and membership before the first entry), the
// Raft id this data directory drew, the cluster's id, and the members' names and addresses as this
// node knows them.
//
// Written as a small JSON document by write-to-temporary, fsync, rename, fsync-directory, so that a
// crash leaves either the old or the new state, never a torn one. A vote is persisted this way
// before it is granted. The commit index alone never needs to wait for the disk (a restarted node
// that lost it learns it again from the leader): it rides along with the next write, or is written
// in the background at most every COMMIT_WRITE_INTERVAL_MS, so that a busy log does not pay two
// extra fsyncs per batch for it.
import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { DataLossError, LogClosedError } from "../errors.ts";
import { silentLogger, type Logger } from "../logger.ts";
import { isClusterId } from "../wire/cluster-id.ts";
import { emptyHardState, type HardState, type SnapshotPoint } from "../raft/index.ts";
import { nodeStateFileSystem, type StateFileSystem } from "./state-file-system.ts";
import { systemTimers, type Timers } from "./timers.ts";

export interface RaftState {
  readonly hardState: HardState;
  readonly snapshot: SnapshotPoint;
  /** Where each member listens (node id → host:port), learned from membership changes and joins. */
  readonly addresses: Readonly<Record<string, string>>;
  /**
   * This node's Raft id, drawn once when the data directory was new and written before the node
   * first talks to anyone (admission.ts); absent where the caller chose the id (the simulator).
   */
  readonly nodeId?: number;
  /** Each member's name (node id → name), learned as the addresses are. */
  readonly names?: Readonly<Record<string, string>>;
  /**
   * The cluster's id (src/wire/cluster-id.ts), drawn at bootstrap or taken from the leader's join
   * answer; absent on a node that has not joined yet, or one from before ids were drawn.
   */
  readonly clusterId?: string;
}

const FORMAT_VERSION = 1;
const COMMIT_WRITE_INTERVAL_MS = 200;

function isNatural(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((id) => isNatural(id) && id > 0);
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === "object" && value !== null && Object.values(value).every((item) => typeof item === "string");
}

function parseState(text: string, path: string): RaftState {
  let parsed: {
    version?: unknown;
    hardState?: Partial<HardState>;
    snapshot?: Partial<SnapshotPoint>;
    addresses?: Record<string, unknown>;
    nodeId?: unknown;
    names?: Record<string, unknown>;
    clusterId?: unknown;
  };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (error) {
    // Empty or cut short: what a write that was never synced leaves after a power loss.
    if (error instanceof SyntaxError) throw new DataLossError(`raft state file ${path} is torn or damaged`, { cause: error });
    throw error;
  }
  const { hardState, snapshot, addresses, nodeId, names, clusterId } = parsed;
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
    isStringMap(addresses) &&
    (nodeId === undefined || (isNatural(nodeId) && nodeId > 0)) &&
    (names === undefined || isStringMap(names)) &&
    (clusterId === undefined || isClusterId(clusterId));
  if (!valid) throw new DataLossError(`raft state file ${path} is malformed`);
  return {
    hardState: hardState as HardState,
    snapshot: snapshot as SnapshotPoint,
    addresses: addresses as Record<string, string>,
    ...(nodeId === undefined ? {} : { nodeId: nodeId as number }),
    ...(names === undefined ? {} : { names: names as Record<string, string> }),
    ...(clusterId === undefined ? {} : { clusterId: clusterId as string }),
  };
}

/** What a state file is handed at open (defaults: node:fs, the system's timers, no logging). */
export interface RaftStateFileDependencies {
  readonly logger?: Logger;
  readonly fileSystem?: StateFileSystem;
  readonly timers?: Timers;
}

export class RaftStateFile {
  /** The state file's name in a cluster member's data directory (its log is in logDirOf's folder beside it). */
  static readonly FILE_NAME = "raft-state.json";

  /** Where a cluster member whose data directory is `dataDir` keeps its data log. */
  static logDirOf(dataDir: string): string {
    return join(dataDir, "log");
  }

  /** Whether `dataDir` is a cluster member's: it holds the state file. */
  static existsIn(dataDir: string): Promise<boolean> {
    return stat(join(dataDir, RaftStateFile.FILE_NAME)).then(
      () => true,
      () => false,
    );
  }

  private writing: Promise<void> = Promise.resolve();
  /** The newest commit index noted but not yet written, if any. */
  private notedCommit: number | undefined;
  private cancelCommitWrite: (() => void) | undefined;
  private closed = false;

  private constructor(
    readonly path: string,
    private current: RaftState,
    /** Whether a state was read from disk (a node that has never written one is new). */
    readonly existed: boolean,
    private readonly logger: Logger,
    private readonly fileSystem: StateFileSystem,
    private readonly timers: Timers,
  ) {}

  /** Reads the state at `path`, or starts from `initial` (not yet written) when there is none. */
  static async open(path: string, initial: Omit<RaftState, "hardState">, dependencies: RaftStateFileDependencies = {}): Promise<RaftStateFile> {
    const { logger = silentLogger, fileSystem = nodeStateFileSystem, timers = systemTimers } = dependencies;
    const text = await fileSystem.read(path);
    if (text === undefined) return new RaftStateFile(path, { hardState: emptyHardState, ...initial }, false, logger, fileSystem, timers);
    return new RaftStateFile(path, parseState(text, path), true, logger, fileSystem, timers);
  }

  get state(): RaftState {
    return this.current;
  }

  /**
   * Replaces the given parts of the state durably; resolves once it would survive a crash. Updates
   * are written one at a time, in call order, each with everything updated before it (and the
   * latest noted commit index, if higher). A patch that merges into what is stored (a map of members)
   * is a function of the state as it is when its turn comes: computed at the call, it would drop
   * what an update queued before it adds (two members admitted at once, one of them lost its name).
   */
  update(patch: Partial<RaftState> | ((current: RaftState) => Partial<RaftState>)): Promise<void> {
    if (this.closed) return Promise.reject(new LogClosedError(`raft state file ${this.path} is closed`));
    const write = this.writing.then(() => this.write(patch));
    this.writing = write.catch(() => undefined);
    return write;
  }

  /** Records a new commit index without waiting for the disk: losing it in a crash is safe. */
  noteCommit(commit: number): void {
    if (this.closed || commit <= (this.notedCommit ?? this.current.hardState.commit)) return;
    this.notedCommit = commit;
    this.cancelCommitWrite ??= this.timers.after(COMMIT_WRITE_INTERVAL_MS, () => {
      this.cancelCommitWrite = undefined;
      this.writeNotedCommit();
    });
  }

  /**
   * Writes a noted commit index still pending, then refuses further updates; resolves once every
   * write has ended, after which nothing touches the file's directory. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.cancelCommitWrite?.();
      this.cancelCommitWrite = undefined;
      if (this.notedCommit !== undefined) this.writeNotedCommit();
      this.closed = true;
    }
    await this.writing;
  }

  /** Writes the noted commit index without anyone waiting; a failure only costs a warning. */
  private writeNotedCommit(): void {
    this.update({}).catch((error: unknown) => this.logger.warn("writing the commit index failed", { path: this.path, error }));
  }

  private async write(patch: Partial<RaftState> | ((current: RaftState) => Partial<RaftState>)): Promise<void> {
    const next = { ...this.current, ...(typeof patch === "function" ? patch(this.current) : patch) };
    const commit = Math.max(next.hardState.commit, this.notedCommit ?? 0);
    const state = commit === next.hardState.commit ? next : { ...next, hardState: { ...next.hardState, commit } };
    assert.ok(state.hardState.term >= this.current.hardState.term, "the term never goes back");
    const temporary = `${this.path}.tmp`;
    await this.fileSystem.write(temporary, JSON.stringify({ version: FORMAT_VERSION, ...state }));
    await this.fileSystem.sync(temporary);
    await this.fileSystem.rename(temporary, this.path);
    await this.fileSystem.syncDirectory(dirname(this.path));
    this.current = state;
    if (this.notedCommit !== undefined && this.notedCommit <= commit) this.notedCommit = undefined;
  }
}
