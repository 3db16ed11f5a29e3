// Recovery of a segment as it opens (declared in segment.h): the store is the source of truth, and
// the two indexes, which a crash may leave short, stale or damaged, are checked against it and
// rebuilt from it where they disagree. Kept apart from segment.cc because it runs once per open,
// single-threaded, before JavaScript sees the segment, and is the part of the segment that reasons
// about what a crash can leave behind; the rest serves appends and reads of a recovered segment.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <vector>

#include "errors.h"
#include "file-io.h"
#include "frame.h"
#include "segment.h"

namespace loghouse {
namespace {

constexpr size_t kScanChunkBytes = 1u << 20;
constexpr int kVerifyBackwardTriesMax = 64;

// The number of used entries at the start of a map's file (FirstZero): a binary search, touching a
// few pages far apart. Each entry is read with pread, not through the map: a read fault on a hole
// of a shared map must allocate the page, which on a full tmpfs raises SIGBUS and kills the process
// (a node stopped by a full disk could not start again, nor scrub its log), where pread of a hole
// returns zeros and allocates nothing. An entry that cannot be read counts as unused: the checks
// that follow rebuild from the store what it would have said. Readahead is off meanwhile: with it,
// each probe into the sparse tail of a new segment's files zeroed a large window of page cache,
// 12-25 ms of kernel time per segment opened, on the event loop. The walks that follow read whole
// prefixes through the map, for which readahead is right (a cold open of three full segments took
// 95 ms with it, 850 ms without), so it is restored after.
template <typename Entry, typename IsUnused>
uint64_t UsedEntries(int fd, uint64_t length, IsUnused isUnused) {
  posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
  const uint64_t used = FirstZero(length, [fd, &isUnused](uint64_t i) {
    Entry entry{};
    return ReadAll(fd, reinterpret_cast<uint8_t*>(&entry), sizeof(Entry), i * sizeof(Entry)) != 0 || isUnused(entry);
  });
  posix_fadvise(fd, 0, 0, POSIX_FADV_NORMAL);
  return used;
}

}  // namespace

bool Segment::VerifyRecordAt(uint64_t relative) const {
  const uint64_t start = RecordStart(relative);
  const uint64_t end = index_[relative];
  if (end <= start || end > storeBytes_.load()) return false;
  if (end - start > kHeaderBytesMax + kValueBytesHardMax) return false;
  std::vector<uint8_t> frame(end - start);
  if (ReadAll(storeFd_, frame.data(), frame.size(), start) != 0) return false;
  FrameView view;
  return CheckFrame(frame.data(), frame.size(), baseOffset_ + relative, &view) == FrameCheck::kOk &&
         view.Bytes() == frame.size() && (relative > 0 || view.full);
}

// Finds where the index stops agreeing with the store, then reads the store forward from there,
// indexing every intact frame. With `repair` (the active segment), the last indexed record must pass
// its checksum, and whatever follows the last intact frame is a torn or corrupt tail that is cut
// off, so the next append continues right after the last good record. Without it (a sealed
// segment, synced when it was sealed), the index is trusted where its entries increase within the
// store, is rebuilt from the store where they do not (a lost, short or damaged index), and the store
// is never cut: records it cannot account for are kept in the count and reported when read.
bool Segment::Recover(Napi::Env env, bool repair, uint64_t sealedCount) {
  struct stat st;
  if (fstat(storeFd_, &st) != 0) {
    ThrowError(env, "IO", "stat " + storePath_, errno);
    return false;
  }
  const uint64_t storeSize = static_cast<uint64_t>(st.st_size);
  storeBytes_ = storeSize;
  const uint64_t limit = repair ? capacity_ : sealedCount;
  assert(limit <= capacity_);
  // Entries from `used` on are zero as far as the search can tell, and may lie in a hole of the
  // file (a new segment's are all holes): nothing below reads them through the map.
  const uint64_t used = UsedEntries<uint64_t>(indexFd_, capacity_, [](uint64_t end) { return end == 0; });
  uint64_t count = std::min(limit, used);
  // Every entry must increase and stay within the store: damage in the middle ends the trusted
  // prefix there, and the scan below indexes the rest from the store again.
  for (uint64_t i = 0; i < count; i++) {
    if (index_[i] <= RecordStart(i) || index_[i] > storeSize) count = i;
  }
  for (int tries = 0; repair && count > 0 && !VerifyRecordAt(count - 1); tries++) {
    count = tries < kVerifyBackwardTriesMax ? count - 1 : 0;
  }
  uint64_t position = RecordStart(count);
  std::vector<uint8_t> chunk;
  size_t neededBytes = kFullHeaderBytes;
  while (count < limit && position + neededBytes <= storeSize) {
    chunk.resize(std::min<uint64_t>(storeSize - position, std::max(kScanChunkBytes, neededBytes)));
    int errnum = ReadAll(storeFd_, chunk.data(), chunk.size(), position);
    if (errnum == 0) errnum = ReserveIndexes(std::min(limit, count + chunk.size() / kCompactHeaderBytes + 1), 0);
    if (errnum != 0) {
      ThrowError(env, "IO", "read " + storePath_ + " during recovery", errnum);
      return false;
    }
    size_t used = 0;
    FrameCheck check = FrameCheck::kOk;
    FrameView view;
    while (count < limit) {
      check = CheckFrame(chunk.data() + used, chunk.size() - used, baseOffset_ + count, &view);
      if (check != FrameCheck::kOk || (count == 0 && !view.full)) break;
      used += view.Bytes();
      index_[count] = position + used;
      count++;
      scannedRecords_++;
    }
    position += used;
    if (check != FrameCheck::kShort) break;
    // The next frame runs past this chunk: read again from its start, large enough to hold it.
    neededBytes = PeekFrame(chunk.data() + used, chunk.size() - used, &view) ? view.Bytes() : kFullHeaderBytes;
    if (used == 0 && chunk.size() >= neededBytes) break;
  }
  truncatedBytes_ = repair ? storeSize - position : 0;
  if (truncatedBytes_ > 0 && ftruncate(storeFd_, static_cast<off_t>(position)) != 0) {
    ThrowError(env, "IO", "cut the torn tail of " + storePath_, errno);
    return false;
  }
  storeBytes_ = position;
  TrimIndexes(count, used);
  assert(RecordStart(count) == position);
  if (!repair && count < sealedCount) {
    // The store does not hold the records its successor's offset says it must: keep their places,
    // with entries that no read accepts (they do not increase), so they read as damaged and the
    // next open scans for them again.
    const int errnum = ReserveIndexes(sealedCount, 0);
    if (errnum != 0) {
      ThrowError(env, "IO", "size the index of " + storePath_, errnum);
      return false;
    }
    for (uint64_t i = count; i < sealedCount; i++) index_[i] = position;
    damagedFrom_ = count;
    count = sealedCount;
  }
  count_ = count;
  if (!repair) assert(count == sealedCount);
  return true;
}

// The run index may have lost entries (it is never synced) or kept entries for records that are
// gone: trim it to the records that exist and check what is left, then derive entries from the store
// for every record after its last entry (or all of them if it had to start over). Those records are
// read in chunks and verified: an entry the index lost at its end would otherwise hand the previous
// run's metadata to a later run's records, and a record that fails its checksum and may have started
// a run gets an unverified entry. With an intact run index that re-reads one run, which is at most
// one appended batch.
bool Segment::RecoverRunIndex() {
  const uint64_t count = count_.load();
  // As for the index: entries from `usedRuns` on are not read through the map.
  const uint64_t usedRuns = UsedEntries<RunEntry>(runFd_, capacity_, [](const RunEntry& run) { return run.timestampMs == 0; });
  uint64_t runCount = usedRuns;
  while (runCount > 0 && runs_[runCount - 1].relative >= count) runCount--;
  runCount_ = runCount;
  // Damaged entries that still look like entries: start the run index over from the store.
  if (runCount > 0 && (!RunsWellFormed(runCount) || !RunMatchesStore(runCount - 1))) runCount = 0;
  for (uint64_t i = runCount; i < usedRuns && runs_[i].timestampMs != 0; i++) runs_[i] = RunEntry{};
  runCount_ = runCount;
  // The kept entries are trusted only once checked against the store (RunTrusted); the last just was.
  runsToCheck_ = runCount == 0 ? 0 : runCount - 1;
  const uint64_t end = std::min(count, damagedFrom_);
  uint64_t relative = runCount == 0 ? 0 : runs_[runCount - 1].relative + 1;
  if (relative < end && ReserveIndexes(0, runCount + (end - relative)) != 0) return true;  // No room: reads will say so.
  std::vector<uint8_t> chunk;
  while (relative < end) {
    // Whole records from `relative` on, about kScanChunkBytes of them (at least one).
    const uint64_t chunkStart = RecordStart(relative);
    if (index_[relative] - chunkStart > kHeaderBytesMax + kValueBytesHardMax) {
      AddUnverifiedRun(relative++);  // Longer than any frame: a damaged entry.
      continue;
    }
    uint64_t last = relative;
    while (last + 1 < end && index_[last + 1] - chunkStart <= kScanChunkBytes) last++;
    assert(index_[last] > chunkStart);
    chunk.resize(index_[last] - chunkStart);
    if (ReadAll(storeFd_, chunk.data(), chunk.size(), chunkStart) != 0) return true;  // Reads will say so.
    for (; relative <= last; relative++) {
      const uint64_t at = RecordStart(relative) - chunkStart;
      const uint64_t length = index_[relative] - RecordStart(relative);
      FrameView view;
      const bool intact = CheckFrame(chunk.data() + at, length, baseOffset_ + relative, &view) == FrameCheck::kOk && view.Bytes() == length;
      if (!intact) {
        // A damaged compact frame leaves its run's metadata standing for the records after it;
        // anything that may have started a run (or is not recognisably compact) ends it.
        const bool compact = relative > 0 && PeekFrame(chunk.data() + at, length, &view) && !view.full && view.Bytes() == length;
        if (!compact) AddUnverifiedRun(relative);
      } else if (view.full) {
        AddRun(relative, view.metadata);
      }
    }
  }
  return true;
}

void Segment::AddUnverifiedRun(uint64_t relative) {
  const uint64_t runCount = runCount_.load();
  RunEntry entry = runCount == 0 ? RunEntry{relative, 0, 1, 0, 0} : runs_[runCount - 1];
  entry.relative = relative;
  entry.reserved = kUnverifiedRun;
  AddRun(relative, entry.Metadata());
  runs_[runCount].reserved = kUnverifiedRun;
}

bool Segment::RunsWellFormed(uint64_t runCount) const {
  if (runs_[0].relative != 0) return false;
  for (uint64_t i = 0; i < runCount; i++) {
    if ((runs_[i].reserved != 0 && runs_[i].reserved != kUnverifiedRun) || runs_[i].timestampMs == 0) return false;
    if (i > 0 && (runs_[i].relative <= runs_[i - 1].relative || runs_[i].timestampMs < runs_[i - 1].timestampMs)) return false;
  }
  return true;
}

}  // namespace loghouse
