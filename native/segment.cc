#include "segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cmath>
#include <memory>
#include <vector>

#include "errors.h"
#include "file-io.h"
#include "frame.h"
#include "task.h"

namespace loghouse {
namespace {

constexpr double kSafeIntegerMax = 9007199254740991.0;

int EnsureFileBytes(int fd, uint64_t bytes) {
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  if (static_cast<uint64_t>(st.st_size) >= bytes) return 0;
  return ftruncate(fd, static_cast<off_t>(bytes)) == 0 ? 0 : errno;
}

void* MapFile(int fd, uint64_t bytes) {
  void* address = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return address == MAP_FAILED ? nullptr : address;
}

bool ToSafeInteger(const Napi::Value& value, uint64_t* out) {
  if (!value.IsNumber()) return false;
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= 0) || number > kSafeIntegerMax || std::floor(number) != number) return false;
  *out = static_cast<uint64_t>(number);
  return true;
}

}  // namespace

Napi::Function Segment::Define(Napi::Env env) {
  return DefineClass(env, "Segment",
                     {
                         InstanceAccessor<&Segment::Count>("count"),
                         InstanceAccessor<&Segment::StoreBytes>("storeBytes"),
                         InstanceAccessor<&Segment::Capacity>("capacity"),
                         InstanceAccessor<&Segment::Recovery>("recovery"),
                         InstanceMethod<&Segment::Append>("append"),
                         InstanceMethod<&Segment::Sync>("sync"),
                         InstanceMethod<&Segment::Truncate>("truncate"),
                         InstanceMethod<&Segment::Read>("read"),
                         InstanceMethod<&Segment::FindTime>("findTime"),
                         InstanceMethod<&Segment::TermAt>("termAt"),
                         InstanceMethod<&Segment::ReleaseMemory>("releaseMemory"),
                         InstanceMethod<&Segment::Close>("close"),
                     });
}

Segment::Segment(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Segment>(info) {
  Napi::Env env = info.Env();
  uint64_t indexEntriesMax = 0;
  uint64_t sealedCount = 0;
  if (info.Length() != 6 || !info[0].IsString() || !info[1].IsString() || !info[2].IsString() ||
      !ToSafeInteger(info[3], &baseOffset_) || !ToSafeInteger(info[4], &indexEntriesMax) ||
      !(info[5].IsNull() || (ToSafeInteger(info[5], &sealedCount) && sealedCount > 0 && sealedCount <= indexEntriesMax))) {
    ThrowTypeError(env, "Segment(storePath, indexPath, runIndexPath, baseOffset, indexEntriesMax, sealedCount: null | 1..indexEntriesMax)");
    return;
  }
  const bool repair = info[5].IsNull();
  storePath_ = info[0].As<Napi::String>().Utf8Value();
  if (!Open(env, storePath_, info[1].As<Napi::String>().Utf8Value(),
            info[2].As<Napi::String>().Utf8Value(), indexEntriesMax)) {
    Release();
    return;
  }
  if (!Recover(env, repair, sealedCount) || !RecoverRunIndex()) Release();
}

Segment::~Segment() { Release(); }

void Segment::Release() {
  if (index_ != nullptr) munmap(index_, capacity_ * sizeof(uint64_t));
  if (runs_ != nullptr) munmap(runs_, capacity_ * sizeof(RunEntry));
  index_ = nullptr;
  runs_ = nullptr;
  for (int* fd : {&storeFd_, &indexFd_, &runFd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

bool Segment::Open(Napi::Env env, const std::string& storePath, const std::string& indexPath,
                   const std::string& runIndexPath, uint64_t indexEntriesMax) {
  indexPath_ = indexPath;
  runIndexPath_ = runIndexPath;
  storeFd_ = open(storePath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  indexFd_ = open(indexPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  runFd_ = open(runIndexPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (storeFd_ < 0 || indexFd_ < 0 || runFd_ < 0) {
    ThrowError(env, "IO", "open segment files of " + storePath, errno);
    return false;
  }
  struct stat st;
  if (fstat(indexFd_, &st) != 0) {
    ThrowError(env, "IO", "stat index of " + storePath, errno);
    return false;
  }
  // Capacity never shrinks below what the file holds: a smaller limit applies to new segments.
  capacity_ = std::max<uint64_t>({indexEntriesMax, static_cast<uint64_t>(st.st_size) / sizeof(uint64_t), 1});
  int errnum = EnsureFileBytes(indexFd_, capacity_ * sizeof(uint64_t));
  if (errnum == 0) errnum = EnsureFileBytes(runFd_, capacity_ * sizeof(RunEntry));
  if (errnum != 0) {
    ThrowError(env, "IO", "size index files of " + storePath, errnum);
    return false;
  }
  index_ = static_cast<uint64_t*>(MapFile(indexFd_, capacity_ * sizeof(uint64_t)));
  runs_ = static_cast<RunEntry*>(MapFile(runFd_, capacity_ * sizeof(RunEntry)));
  if (index_ == nullptr || runs_ == nullptr) {
    ThrowError(env, "IO", "map index files of " + storePath, errno);
    return false;
  }
  return true;
}

int Segment::ReserveIndexes(uint64_t count, uint64_t runCount) {
  constexpr uint64_t kReserveAheadBytes = 64 * 1024;
  const auto reserve = [](int* fd, const std::string& path, uint64_t* reserved, uint64_t needed, uint64_t fileBytes) -> int {
    if (needed <= *reserved) return 0;
    if (*fd < 0) *fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (*fd < 0) return errno;
    const uint64_t end = std::min(fileBytes, needed + kReserveAheadBytes);
    const int errnum = posix_fallocate(*fd, static_cast<off_t>(*reserved), static_cast<off_t>(end - *reserved));
    // Filesystems without fallocate keep sparse maps, as before.
    if (errnum != 0 && errnum != EOPNOTSUPP && errnum != EINVAL) return errnum;
    *reserved = end;
    return 0;
  };
  const int errnum = reserve(&indexFd_, indexPath_, &indexBytesReserved_, count * sizeof(uint64_t), capacity_ * sizeof(uint64_t));
  return errnum != 0 ? errnum : reserve(&runFd_, runIndexPath_, &runBytesReserved_, runCount * sizeof(RunEntry), capacity_ * sizeof(RunEntry));
}

bool Segment::RunMatchesStore(uint64_t run) const {
  if (runs_[run].reserved == kUnverifiedRun) return false;
  const uint64_t relative = runs_[run].relative;
  const uint64_t start = RecordStart(relative);
  const size_t length = std::min<uint64_t>(kFullHeaderBytes, index_[relative] - start);
  uint8_t header[kFullHeaderBytes];
  FrameView view;
  return ReadAll(storeFd_, header, length, start) == 0 && PeekFrame(header, length, &view) && view.full &&
         view.metadata == runs_[run].Metadata();
}

void Segment::AddRun(uint64_t relative, const RecordMetadata& metadata) {
  const uint64_t runCount = runCount_.load();
  assert(runCount < capacity_);
  assert(metadata.timestampMs > 0);
  if (runCount > 0) assert(relative > runs_[runCount - 1].relative);
  runs_[runCount] = RunEntry::Of(relative, metadata);
  runCount_ = runCount + 1;
}

bool Segment::RunTrusted(uint64_t run) {
  assert(run < runCount_.load());
  if (runs_[run].reserved == kUnverifiedRun) return false;
  if (run >= runsToCheck_) return true;
  if (runChecks_.empty()) runChecks_.resize(runsToCheck_, RunCheck::kNotYet);
  if (runChecks_[run] == RunCheck::kNotYet) runChecks_[run] = RunMatchesStore(run) ? RunCheck::kMatched : RunCheck::kMismatched;
  return runChecks_[run] == RunCheck::kMatched;
}

uint64_t Segment::RunFor(uint64_t relative) const {
  const uint64_t runCount = runCount_.load();
  const uint64_t after = FirstZero(runCount, [this, relative](uint64_t i) { return runs_[i].relative > relative; });
  return after == 0 ? runCount : after - 1;
}

// Zeroes index entries from `count` on, up to the first zero or `end`, so that a later open does not
// read stale positions.
void Segment::TrimIndexes(uint64_t count, uint64_t end) {
  for (uint64_t i = count; i < end && index_[i] != 0; i++) index_[i] = 0;
  uint64_t runCount = runCount_.load();
  while (runCount > 0 && runs_[runCount - 1].relative >= count) {
    runCount--;
    runs_[runCount] = RunEntry{};
  }
  runCount_ = runCount;
}

bool Segment::CheckOpen(Napi::Env env) const {
  if (storeFd_ >= 0) return true;
  ThrowError(env, "CLOSED", "segment " + storePath_ + " is closed", 0);
  return false;
}

Napi::Value Segment::Count(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(count_.load()));
}

Napi::Value Segment::StoreBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(storeBytes_.load()));
}

Napi::Value Segment::Capacity(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(capacity_));
}

Napi::Value Segment::Recovery(const Napi::CallbackInfo& info) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("truncatedBytes", Napi::Number::New(info.Env(), static_cast<double>(truncatedBytes_)));
  result.Set("scannedRecords", Napi::Number::New(info.Env(), static_cast<double>(scannedRecords_)));
  return result;
}

// append(frames: Buffer[], sync: boolean): Promise<void>. The frames must continue this segment's
// offsets and fit its capacity; JavaScript guarantees both, and a violation is a programming error.
Napi::Value Segment::Append(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (info.Length() != 2 || !info[0].IsArray() || !info[1].IsBoolean()) {
    ThrowTypeError(env, "append(frames: Buffer[], sync: boolean)");
    return env.Undefined();
  }
  Napi::Array frames = info[0].As<Napi::Array>();
  const bool sync = info[1].As<Napi::Boolean>().Value();
  auto pieces = std::make_shared<std::vector<iovec>>();
  auto ends = std::make_shared<std::vector<uint64_t>>();
  auto runs = std::make_shared<std::vector<RunEntry>>();
  const uint64_t count = count_.load();
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < frames.Length(); i++) {
    Napi::Value element = frames.Get(i);
    if (!element.IsBuffer()) {
      ThrowTypeError(env, "append: every frame list element must be a Buffer");
      return env.Undefined();
    }
    Napi::Buffer<uint8_t> buffer = element.As<Napi::Buffer<uint8_t>>();
    pieces->push_back(iovec{buffer.Data(), buffer.Length()});
    // Frames come from encode(), read() or verifyFrames(), so their checksums are not computed
    // again here; their shape and placement are checked, because a bad one would corrupt the index.
    for (size_t used = 0; used < buffer.Length();) {
      const uint64_t relative = count + ends->size();
      FrameView view;
      if (!PeekFrame(buffer.Data() + used, buffer.Length() - used, &view) || view.Bytes() > buffer.Length() - used ||
          (used == 0 && !view.full) || relative >= capacity_ || (view.full && view.metadata.timestampMs == 0)) {
        ThrowError(env, "INVALID", "append: frames do not continue segment " + storePath_, 0);
        return env.Undefined();
      }
      if (view.full) runs->push_back(RunEntry::Of(relative, view.metadata));
      used += view.Bytes();
      bytes += view.Bytes();
      ends->push_back(bytes);
    }
  }
  if (ends->empty()) {
    ThrowError(env, "INVALID", "append: no frames", 0);
    return env.Undefined();
  }
  if (busy_.exchange(true)) {
    ThrowError(env, "INVALID", "append: another write to " + storePath_ + " is in flight", 0);
    return env.Undefined();
  }
  return RunTask(
      env,
      [this, pieces, ends, runs, sync]() -> TaskResult {
        const uint64_t position = storeBytes_.load();
        const uint64_t first = count_.load();
        int errnum = ReserveIndexes(first + ends->size(), runCount_.load() + runs->size());
        if (errnum != 0) return {errnum, "open or allocate the index files of " + storePath_};
        errnum = WriteAll(storeFd_, *pieces, position);
        if (errnum == 0 && sync && fdatasync(storeFd_) != 0) errnum = errno;
        if (errnum != 0) {
          // Leave the segment as it was: none of these records is indexed, and the store is cut back
          // to where they began, so the caller may write again from there (after a full disk). Under
          // durability "fsync" every earlier record was synced before it was acknowledged, so a failed
          // fdatasync can only have lost pages of these.
          if (ftruncate(storeFd_, static_cast<off_t>(position)) != 0) return {errno, "undo a failed write to " + storePath_};
          return {errnum, sync ? "write and fdatasync " + storePath_ : "write " + storePath_};
        }
        for (size_t i = 0; i < ends->size(); i++) index_[first + i] = position + (*ends)[i];
        for (const RunEntry& run : *runs) AddRun(run.relative, run.Metadata());
        storeBytes_ = position + ends->back();
        count_ = first + ends->size();
        return {};
      },
      [this]() { busy_ = false; }, frames);
}

Napi::Value Segment::Sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  const int fd = storeFd_;
  const std::string path = storePath_;
  return RunTask(
      env, [fd, path]() -> TaskResult { return fdatasync(fd) == 0 ? TaskResult{} : TaskResult{errno, "fdatasync " + path}; },
      nullptr, env.Undefined());
}

// truncate(count): keeps the first `count` records, durably. JavaScript stops reading past `count`
// before calling it.
Napi::Value Segment::Truncate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint64_t keep = 0;
  if (info.Length() != 1 || !ToSafeInteger(info[0], &keep) || keep > count_.load()) {
    ThrowTypeError(env, "truncate(count) needs 0 <= count <= the segment's record count");
    return env.Undefined();
  }
  if (busy_.exchange(true)) {
    ThrowError(env, "INVALID", "truncate: another write to " + storePath_ + " is in flight", 0);
    return env.Undefined();
  }
  return RunTask(
      env,
      [this, keep]() -> TaskResult {
        const uint64_t end = RecordStart(keep);
        if (ftruncate(storeFd_, static_cast<off_t>(end)) != 0) return {errno, "truncate " + storePath_};
        count_ = keep;
        storeBytes_ = end;
        TrimIndexes(keep, capacity_);
        if (fdatasync(storeFd_) != 0) return {errno, "fdatasync " + storePath_};
        return {};
      },
      [this]() {
        busy_ = false;
        // Run entries from the trimmed count on will be written by this process: nothing remembered
        // of the entries kept from the file at open may stand for them.
        runsToCheck_ = std::min(runsToCheck_, runCount_.load());
        if (runChecks_.size() > runsToCheck_) runChecks_.resize(runsToCheck_);
      },
      env.Undefined());
}

// read(relative, countMax, bytesMax): { firstOffset, count, frames }, where frames is a Buffer
// holding `count` whole frames from `relative` (at offset firstOffset) on: at least one, at most
// countMax, and no more than bytesMax bytes of stored frames unless the first alone is larger. The
// first frame is always returned full (its run's metadata written into it) so that the buffer stands
// on its own. Every frame is verified and never returned unless intact: a damaged first record
// throws CORRUPT, and a damaged later one ends the buffer before it. The count comes from the walk
// that verifies the frames, so the caller need not walk them again to learn it.
Napi::Value Segment::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint64_t relative = 0;
  uint64_t countMax = 0;
  uint64_t bytesMax = 0;
  const uint64_t count = count_.load();
  if (info.Length() != 3 || !ToSafeInteger(info[0], &relative) || !ToSafeInteger(info[1], &countMax) ||
      !ToSafeInteger(info[2], &bytesMax) || relative >= count || countMax == 0) {
    ThrowTypeError(env, "read(relative, countMax, bytesMax) needs relative < count and countMax > 0");
    return env.Undefined();
  }
  const uint64_t start = RecordStart(relative);
  const uint64_t last = std::min(count, relative + countMax);
  // The last record to include: the furthest within the byte budget, and never less than one.
  uint64_t low = relative;
  uint64_t high = last - 1;
  while (low < high) {
    const uint64_t middle = low + (high - low + 1) / 2;
    if (index_[middle] > start && index_[middle] - start <= bytesMax) {
      low = middle;
    } else {
      high = middle - 1;
    }
  }
  const uint64_t take = low - relative + 1;
  const uint64_t end = index_[relative + take - 1];
  const uint64_t run = RunFor(relative);
  const auto corrupt = [&](const std::string& what, uint64_t at) {
    ThrowError(env, "CORRUPT", what + " in " + storePath_ + " at offset " + std::to_string(baseOffset_ + at), 0);
    return env.Undefined();
  };
  // A sealed segment spans up to its successor's base offset: a store that ends first was cut
  // short, or the files of the segments after it are gone.
  if (start >= storeBytes_.load() || end > storeBytes_.load()) {
    return corrupt("store ends before this record (the store was cut short, or the next segment's files are missing)", relative);
  }
  if (end <= start || end - start > (uint64_t{1} << 32)) return corrupt("index entry out of order", relative);
  if (run == runCount_.load()) return corrupt("record has no run metadata", relative);
  // The run index is not synced: check the entry against the store before lending its metadata.
  if (runs_[run].relative != relative && !RunMatchesStore(run)) return corrupt("run index disagrees with store", relative);
  // A compact first frame grows by the difference between the header sizes when written full.
  const bool startsRun = runs_[run].relative == relative;
  const size_t slack = startsRun ? 0 : kFullHeaderBytes - kCompactHeaderBytes;
  Napi::Buffer<uint8_t> frames = Napi::Buffer<uint8_t>::New(env, slack + (end - start));
  const int errnum = ReadAll(storeFd_, frames.Data() + slack, end - start, start);
  if (errnum != 0) {
    ThrowError(env, "IO", "read " + storePath_ + " at offset " + std::to_string(baseOffset_ + relative), errnum);
    return env.Undefined();
  }
  size_t used = slack;
  FrameView first;
  uint64_t intact = 0;
  for (; intact < take; intact++) {
    FrameView view;
    const FrameCheck check = CheckFrame(frames.Data() + used, frames.Length() - used, baseOffset_ + relative + intact, &view);
    const bool placed = check == FrameCheck::kOk && start + used + view.Bytes() - slack == index_[relative + intact];
    // A damaged record ends the read: the intact records before it are returned, and it is
    // reported when a read starts at it.
    if (!placed && intact > 0) break;
    if (!placed) return corrupt(check == FrameCheck::kOk ? "index disagrees with store" : DescribeFrameCheck(check), relative);
    used += view.Bytes();
    if (intact == 0) first = view;
  }
  if (first.full != startsRun) return corrupt("run index disagrees with store", relative);
  if (intact == take) assert(used == frames.Length());
  if (!startsRun) {
    WriteFullFrame(frames.Data(), baseOffset_ + relative, runs_[run].Metadata(), frames.Data() + kFullHeaderBytes, first.valueLength);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("firstOffset", Napi::Number::New(env, static_cast<double>(baseOffset_ + relative)));
  result.Set("count", Napi::Number::New(env, static_cast<double>(intact)));
  result.Set("frames", intact < take ? Napi::Buffer<uint8_t>::Copy(env, frames.Data(), used) : frames);
  return result;
}

// findTime(ms): the relative index of the first record created at or after `ms`, or -1.
Napi::Value Segment::FindTime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint64_t ms = 0;
  if (info.Length() != 1 || !ToSafeInteger(info[0], &ms)) {
    ThrowTypeError(env, "findTime(ms) needs a non-negative integer");
    return env.Undefined();
  }
  const uint64_t runCount = runCount_.load();
  const uint64_t first = FirstZero(runCount, [this, ms](uint64_t i) { return runs_[i].timestampMs >= ms; });
  if (first == runCount) return Napi::Number::New(env, -1);
  return Napi::Number::New(env, static_cast<double>(runs_[first].relative));
}

// termAt(relative): the term stored with a record, from the run index in memory: a binary search,
// and no store read once its run is trusted (see RunTrusted).
Napi::Value Segment::TermAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint64_t relative = 0;
  if (info.Length() != 1 || !ToSafeInteger(info[0], &relative) || relative >= count_.load()) {
    ThrowTypeError(env, "termAt(relative) needs relative < count");
    return env.Undefined();
  }
  const uint64_t run = RunFor(relative);
  if (relative >= damagedFrom_ || run == runCount_.load() || !RunTrusted(run)) {
    ThrowError(env, "CORRUPT", "no verified run metadata in " + storePath_ + " at offset " + std::to_string(baseOffset_ + relative), 0);
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(runs_[run].term));
}

// releaseMemory(): drops the index maps' pages from this process's resident set. They are shared
// file mappings, so nothing is lost: what was written stays in the page cache and on disk, and a
// later lookup faults its page back in. For sealed segments, whose indexes are no longer written:
// their index files' descriptors are closed too (an append after a truncation opens them again).
// Advice only: on a closed segment, with a write in flight, or if the kernel refuses, nothing changes.
Napi::Value Segment::ReleaseMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (index_ == nullptr || runs_ == nullptr || busy_.load()) return env.Undefined();
  madvise(index_, capacity_ * sizeof(uint64_t), MADV_DONTNEED);
  madvise(runs_, capacity_ * sizeof(RunEntry), MADV_DONTNEED);
  // The maps stay valid without their descriptors.
  for (int* fd : {&indexFd_, &runFd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  return env.Undefined();
}

Napi::Value Segment::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (busy_.load()) {
    ThrowError(env, "INVALID", "close: a write to " + storePath_ + " is in flight", 0);
    return env.Undefined();
  }
  Release();
  return env.Undefined();
}

}  // namespace loghouse
