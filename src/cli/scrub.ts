// `loghouse scrub`: verifies every record of a stopped node's log (a cluster member's too, in its
// data directory's "log" folder) and prints the damaged ranges as JSON. Exit 0: no damage; 3: damage found; 1: the log could not be scrubbed (absent, or in use by a
// running node, which scrubs itself in the background), like any runtime error (2 stays a usage error).
import { RaftStateFile } from "../cluster/raft-state-file.ts";
import { LoghouseError } from "../errors.ts";
import { Log } from "../storage/index.ts";
import { errorLine } from "./error-line.ts";
import { readConfigFile } from "./serve.ts";

/** Not 1 (a runtime error) nor 2 (a usage error): scripts can tell "damaged" from "could not look". */
const DAMAGE_FOUND_EXIT_CODE = 3;

export async function scrubDataDir(values: { readonly "data-dir"?: string | undefined; readonly config?: string | undefined }): Promise<number> {
  let dataDir: string;
  let log: Log;
  try {
    const configPath = values.config ?? process.env.LOGHOUSE_CONFIG;
    const file = configPath === undefined ? {} : await readConfigFile(configPath);
    const given = values["data-dir"] ?? process.env.LOGHOUSE_DATA_DIR ?? file.dataDir ?? "./data";
    // A cluster member keeps its log in its data directory's "log" folder (beside raft-state.json).
    dataDir = (await RaftStateFile.existsIn(given)) ? RaftStateFile.logDirOf(given) : given;
    // Only a directory that holds segments: opening an empty one would create a log there.
    if (!(await Log.existsIn(dataDir))) {
      process.stderr.write(`loghouse: NOT_FOUND: no log at ${dataDir}\n`);
      return 1;
    }
    // Opening repairs a torn tail of the active segment, as the node's own start would (its
    // segments sized as the node's config says, or opening would grow them to the defaults). No
    // retention: a check deletes nothing.
    log = await Log.open(dataDir, { ...file.log, retentionBytes: 0, retentionMs: 0 });
  } catch (error) {
    if (!(error instanceof LoghouseError)) throw error;
    process.stderr.write(`loghouse: ${errorLine(error)}\n`);
    return 1;
  }
  try {
    const report = await log.scrub();
    const { lowestOffset, nextOffset } = log;
    process.stdout.write(`${JSON.stringify({ dataDir, lowestOffset, nextOffset, recovery: log.recovery, ...report })}\n`);
    return report.damaged.length === 0 ? 0 : DAMAGE_FOUND_EXIT_CODE;
  } finally {
    await log.close();
  }
}
