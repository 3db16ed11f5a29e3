// Rewriting one segment with some of its records replaced by verified copies from elsewhere (a
// healthy replica), durably: the new store and indexes are written to side files and synced, renamed
// over the segment's files, and the directory is synced, before the new segment is opened; and the
// check that such copies fit the log around them.
import assert from "node:assert/strict";
import { DataLossError, InvalidArgumentError } from "../errors.ts";
import type { LogRecord } from "./frame.ts";
import { syncDirectory } from "./group-commit.ts";
import { Segment } from "./segment.ts";

const COPY_BYTES = 4 * 1024 * 1024;

/**
 * Checks that replacement records fit the log around them: terms and creation times never decrease
 * across them and their intact neighbours (`intact`), and where the log still holds a record's term
 * (`storedTerm`) the replacement has the same. Throws InvalidArgumentError otherwise.
 */
export function checkReplacement(
  given: readonly LogRecord[],
  intact: (offset: number) => LogRecord | undefined,
  storedTerm: (offset: number) => number | undefined,
): void {
  assert.ok(given.length > 0, "at least one replacement record");
  const first = given[0]!.offset;
  const sequence = [intact(first - 1), ...given, intact(first + given.length)].filter((record) => record !== undefined);
  for (let i = 1; i < sequence.length; i++) {
    const [before, after] = [sequence[i - 1]!, sequence[i]!];
    if (after.term < before.term || after.timestampMs < before.timestampMs) {
      throw new InvalidArgumentError(`replacement record ${after.offset} would put term or time out of order after record ${before.offset}`);
    }
  }
  for (const record of given) {
    const stored = storedTerm(record.offset);
    if (stored !== undefined && stored !== record.term) {
      throw new InvalidArgumentError(`replacement record ${record.offset} has term ${record.term}, but this log holds term ${stored} there`);
    }
  }
}

/**
 * Writes a copy of `segment` whose records [firstOffset, firstOffset + count) are `frames` (verified,
 * consecutive, first one full) and whose other records are its own, puts it in place of the segment
 * and returns it opened (`sealedCount` as for Segment.openSealed, null for the active segment). The
 * old segment is closed once the copy is in place. A record of the segment outside the range that
 * fails verification makes it throw DataLossError, and the segment is left as it was.
 */
export async function rewriteSegment(
  segment: Segment,
  firstOffset: number,
  frames: Buffer,
  count: number,
  sealedCount: number | null,
  indexEntriesMax: number,
): Promise<Segment> {
  const { directory, baseOffset } = segment;
  const segmentEnd = segment.writtenEnd;
  assert.ok(baseOffset <= firstOffset && firstOffset + count <= segmentEnd, "the replaced range lies within the segment");
  await Segment.removeFiles(directory, baseOffset, Segment.REWRITE_SUFFIX);
  const copy = Segment.openRewrite(directory, baseOffset, segment.capacity);
  try {
    await copyRecords(segment, copy, baseOffset, firstOffset);
    await copy.files.append([frames], false);
    await copyRecords(segment, copy, firstOffset + count, segmentEnd);
    await copy.files.sync();
    assert.equal(copy.files.count, segment.files.count, "the rewritten segment holds as many records as the old one");
  } catch (error) {
    copy.files.close();
    await Segment.removeFiles(directory, baseOffset, Segment.REWRITE_SUFFIX);
    throw error;
  }
  copy.files.close();
  await Segment.installRewrite(directory, baseOffset);
  await syncDirectory(directory);
  const replacement = sealedCount === null ? Segment.openActive(directory, baseOffset, indexEntriesMax) : Segment.openSealed(directory, baseOffset, sealedCount);
  segment.files.close();
  return replacement;
}

/** Appends the segment's own records [from, to) to `copy`, verified, a few MiB at a time. */
async function copyRecords(segment: Segment, copy: Segment, from: number, to: number): Promise<void> {
  for (let at = from; at < to; ) {
    const frames = readOwn(segment, at, to - at);
    const before = copy.files.count;
    await copy.files.append([frames], false);
    at += copy.files.count - before;
  }
}

/** Verified frames of the segment from `at`; a chunk that fails is read again record by record, so the error names the damaged one. */
function readOwn(segment: Segment, at: number, countMax: number): Buffer {
  const relative = at - segment.baseOffset;
  try {
    return segment.files.read(relative, countMax, COPY_BYTES).frames;
  } catch (error) {
    if (!(error instanceof DataLossError)) throw error;
  }
  try {
    return segment.files.read(relative, 1, 0).frames;
  } catch (error) {
    if (!(error instanceof DataLossError)) throw error;
    throw new DataLossError(`record ${at} is damaged too but lies outside the range given to replace: give every damaged record of the segment at ${segment.baseOffset} in one range`, { cause: error });
  }
}
