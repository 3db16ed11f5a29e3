// One segment of the log: a store file of frames (see frame.h), a dense offset index and a run
// index, both memory-mapped. The store is the source of truth; the indexes are derived from it and
// are verified and repaired against it when the segment opens.
//
// Index file: entry i (u64) is the store position just past record i, so record i spans
// [entry[i-1] (or 0), entry[i]). Entries are non-zero and strictly increasing; a zero ends them.
// Run index file: one RunEntry per full frame, in record order. It gives every record its
// metadata without reading the store, and, since creation times never decrease, it is also the
// time index: the first run created at or after t starts at the first record created at or after t.
//
// Threading: mutating work (append, truncate, sync) runs on a worker thread, one task at a time
// (JavaScript serialises them). Reads run on the main thread and only touch records below the
// count JavaScript has seen published, which the worker never rewrites.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "frame.h"

namespace loghouse {

// `reserved` of a run entry placed at a record that failed its checksum when the run index was
// rebuilt: the records it covers have no metadata anyone can vouch for, so they read as damaged.
constexpr uint32_t kUnverifiedRun = 1;

// The first index in [0, length) whose `isZero` holds, assuming zeros form a suffix: the end of the
// used entries of an index file, or the first run at or after a time (segment.cc, segment-recovery.cc).
template <typename IsZero>
uint64_t FirstZero(uint64_t length, IsZero isZero) {
  uint64_t low = 0;
  uint64_t high = length;
  while (low < high) {
    const uint64_t middle = low + (high - low) / 2;
    if (isZero(middle)) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return low;
}

struct RunEntry {
  uint64_t relative;  // the run's first record, relative to the segment's base offset
  uint64_t term;
  uint64_t timestampMs;  // never 0 in a used entry: a zero ends the entries
  uint32_t type;
  uint32_t reserved;  // 0, or kUnverifiedRun

  static RunEntry Of(uint64_t relative, const RecordMetadata& metadata) {
    return RunEntry{relative, metadata.term, metadata.timestampMs, metadata.type, 0};
  }
  RecordMetadata Metadata() const { return RecordMetadata{term, timestampMs, type}; }
};
static_assert(sizeof(RunEntry) == 32, "run entries are 32 bytes on disk");

class Segment final : public Napi::ObjectWrap<Segment> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new Segment(storePath, indexPath, runIndexPath, baseOffset, indexEntriesMax, sealedCount)
  // sealedCount null: the active segment, whose torn or corrupt tail is cut. A number: a sealed
  // segment, which holds exactly that many records (its successor's base offset minus its own): its
  // index is rebuilt from the store where it is missing, short or damaged, its store is never cut,
  // and records the store cannot account for are reported as damaged when read.
  explicit Segment(const Napi::CallbackInfo& info);
  ~Segment() override;

 private:
  Napi::Value Count(const Napi::CallbackInfo& info);
  Napi::Value StoreBytes(const Napi::CallbackInfo& info);
  Napi::Value Capacity(const Napi::CallbackInfo& info);
  Napi::Value Recovery(const Napi::CallbackInfo& info);
  Napi::Value Append(const Napi::CallbackInfo& info);
  Napi::Value Sync(const Napi::CallbackInfo& info);
  Napi::Value Truncate(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value FindTime(const Napi::CallbackInfo& info);
  Napi::Value TermAt(const Napi::CallbackInfo& info);
  Napi::Value ReleaseMemory(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  bool Open(Napi::Env env, const std::string& storePath, const std::string& indexPath,
            const std::string& runIndexPath, uint64_t indexEntriesMax);

  // Recovery, run once as the segment opens (segment-recovery.cc).
  bool Recover(Napi::Env env, bool repair, uint64_t sealedCount);
  bool RecoverRunIndex();
  bool VerifyRecordAt(uint64_t relative) const;
  // A run entry at a damaged record, keeping the time order of the entries (see kUnverifiedRun).
  void AddUnverifiedRun(uint64_t relative);
  // Entries [0, runCount) start at record 0, increase, and keep time order.
  bool RunsWellFormed(uint64_t runCount) const;

  // Makes sure the index pages for records [0, count) and run entries [0, runCount) are allocated on
  // disk, so that writing them through the maps can never fault on a full disk (opening the index
  // files again if a seal closed them: a sealed segment can become the active one after a
  // truncation). Returns an errno.
  int ReserveIndexes(uint64_t count, uint64_t runCount);
  uint64_t RecordStart(uint64_t relative) const { return relative == 0 ? 0 : index_[relative - 1]; }
  void AddRun(uint64_t relative, const RecordMetadata& metadata);
  // Whether run entry `run` describes the full frame the store holds at its first record.
  bool RunMatchesStore(uint64_t run) const;
  // Whether run entry `run` may lend its term without reading the store: an entry an append wrote or
  // recovery derived from the store in this process may; one kept from the file at open (the run
  // index is never synced, so it may be stale) is checked against the store the first time it is
  // asked for, and the answer remembered. Main thread only.
  bool RunTrusted(uint64_t run);
  // The run holding `relative`: the last entry starting at or before it, or runCount_ if none.
  uint64_t RunFor(uint64_t relative) const;
  void TrimIndexes(uint64_t count, uint64_t end);
  bool CheckOpen(Napi::Env env) const;
  void Release();

  std::string storePath_;
  std::string indexPath_;
  std::string runIndexPath_;
  int storeFd_ = -1;
  // Open while the index files may grow (the active segment); a sealed segment reads them through
  // their maps only, and closes them (ReleaseMemory), so that it holds one descriptor, not three.
  int indexFd_ = -1;
  int runFd_ = -1;
  uint64_t* index_ = nullptr;
  RunEntry* runs_ = nullptr;
  uint64_t capacity_ = 0;
  uint64_t baseOffset_ = 0;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> storeBytes_{0};
  std::atomic<uint64_t> runCount_{0};
  std::atomic<bool> busy_{false};
  uint64_t truncatedBytes_ = 0;
  uint64_t scannedRecords_ = 0;
  // Sealed segments: records from here on were not found in the store (always count_ when whole).
  uint64_t damagedFrom_ = UINT64_MAX;
  // Run entries [0, runsToCheck_) were kept from the file at open without being checked against the
  // store; runChecks_ (sized on first use, main thread only) remembers how each compared with it once
  // checked, so that a run that did not match is not read again on every lookup.
  // Entries from runsToCheck_ on were written or derived from the store in this process.
  uint64_t runsToCheck_ = 0;
  enum class RunCheck : uint8_t { kNotYet, kMatched, kMismatched };
  std::vector<RunCheck> runChecks_;
  // Bytes of the index files known to be allocated on disk (worker thread only).
  uint64_t indexBytesReserved_ = 0;
  uint64_t runBytesReserved_ = 0;
};

}  // namespace loghouse
