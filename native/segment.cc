#include "segment.h"

#include <fcntl.h>
#include <limits.h>
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
#include "frame.h"
#include "task.h"

namespace loghouse {
namespace {

constexpr size_t kScanChunkBytes = 1u << 20;
constexpr int kVerifyBackwardTriesMax = 64;
constexpr double kSafeIntegerMax = 9007199254740991.0;

int ReadAll(int fd, uint8_t* bytes, size_t length, uint64_t position) {
  while (length > 0) {
    const ssize_t got = pread(fd, bytes, length, static_cast<off_t>(position));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno;
    if (got == 0) return EIO;  // The file is shorter than the index says.
    bytes += got;
    length -= static_cast<size_t>(got);
    position += static_cast<uint64_t>(got);
  }
  return 0;
}

// Writes every iovec at `position`, resuming after partial writes.
int WriteAll(int fd, std::vector<iovec> pieces, uint64_t position) {
  size_t first = 0;
  while (first < pieces.size()) {
    const int countMax = std::min<size_t>(pieces.size() - first, IOV_MAX);
    const ssize_t wrote = pwritev(fd, &pieces[first], countMax, static_cast<off_t>(position));
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) return errno;
    position += static_cast<uint64_t>(wrote);
    size_t left = static_cast<size_t>(wrote);
    while (left > 0 && left >= pieces[first].iov_len) {
      left -= pieces[first].iov_len;
      first++;
    }
    if (left > 0) {
      pieces[first].iov_base = static_cast<uint8_t*>(pieces[first].iov_base) + left;
      pieces[first].iov_len -= left;
    }
  }
  return 0;
}

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

// The first index in [0, length) whose `isZero` holds, assuming zeros form a suffix.
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
  uint64_t count = std::min(limit, FirstZero(capacity_, [this](uint64_t i) { return index_[i] == 0; }));
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
  TrimIndexes(count);
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

int Segment::ReserveIndexes(uint64_t count, uint64_t runCount) {
  constexpr uint64_t kReserveAheadBytes = 64 * 1024;
  const auto reserve = [](int fd, uint64_t* reserved, uint64_t needed, uint64_t fileBytes) -> int {
    if (needed <= *reserved) return 0;
    const uint64_t end = std::min(fileBytes, needed + kReserveAheadBytes);
    const int errnum = posix_fallocate(fd, static_cast<off_t>(*reserved), static_cast<off_t>(end - *reserved));
    // Filesystems without fallocate keep sparse maps, as before.
    if (errnum != 0 && errnum != EOPNOTSUPP && errnum != EINVAL) return errnum;
    *reserved = end;
    return 0;
  };
  const int errnum = reserve(indexFd_, &indexBytesReserved_, count * sizeof(uint64_t), capacity_ * sizeof(uint64_t));
  return errnum != 0 ? errnum : reserve(runFd_, &runBytesReserved_, runCount * sizeof(RunEntry), capacity_ * sizeof(RunEntry));
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
  uint64_t runCount = FirstZero(capacity_, [this](uint64_t i) { return runs_[i].timestampMs == 0; });
  while (runCount > 0 && runs_[runCount - 1].relative >= count) runCount--;
  runCount_ = runCount;
  // Damaged entries that still look like entries: start the run index over from the store.
  if (runCount > 0 && (!RunsWellFormed(runCount) || !RunMatchesStore(runCount - 1))) runCount = 0;
  for (uint64_t i = runCount; i < capacity_ && runs_[i].timestampMs != 0; i++) runs_[i] = RunEntry{};
  runCount_ = runCount;
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

uint64_t Segment::RunFor(uint64_t relative) const {
  const uint64_t runCount = runCount_.load();
  const uint64_t after = FirstZero(runCount, [this, relative](uint64_t i) { return runs_[i].relative > relative; });
  return after == 0 ? runCount : after - 1;
}

// Zeroes index entries from `count` on, so that a later open does not read stale positions.
void Segment::TrimIndexes(uint64_t count) {
  for (uint64_t i = count; i < capacity_ && index_[i] != 0; i++) index_[i] = 0;
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
        if (errnum != 0) return {errnum, "allocate index space for " + storePath_};
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
        TrimIndexes(keep);
        if (fdatasync(storeFd_) != 0) return {errno, "fdatasync " + storePath_};
        return {};
      },
      [this]() { busy_ = false; }, env.Undefined());
}

// read(relative, countMax, bytesMax): Buffer holding whole frames from `relative` on: at least one,
// at most countMax, and no more than bytesMax bytes of stored frames unless the first alone is
// larger. The first frame is always returned full (its run's metadata written into it) so that the
// buffer stands on its own. Every frame is verified and never returned unless intact: a damaged
// first record throws CORRUPT, and a damaged later one ends the buffer before it.
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
  if (end <= start || end > storeBytes_.load() || end - start > (uint64_t{1} << 32)) return corrupt("index entry out of order", relative);
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
  if (intact < take) return Napi::Buffer<uint8_t>::Copy(env, frames.Data(), used);
  return frames;
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

// termAt(relative): the term stored with a record, from the run index (no store read).
Napi::Value Segment::TermAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint64_t relative = 0;
  if (info.Length() != 1 || !ToSafeInteger(info[0], &relative) || relative >= count_.load()) {
    ThrowTypeError(env, "termAt(relative) needs relative < count");
    return env.Undefined();
  }
  const uint64_t run = RunFor(relative);
  if (relative >= damagedFrom_ || run == runCount_.load() || !RunMatchesStore(run)) {
    ThrowError(env, "CORRUPT", "no verified run metadata in " + storePath_ + " at offset " + std::to_string(baseOffset_ + relative), 0);
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(runs_[run].term));
}

// releaseMemory(): drops the index maps' pages from this process's resident set. They are shared
// file mappings, so nothing is lost: what was written stays in the page cache and on disk, and a
// later lookup faults its page back in. For sealed segments, whose indexes are no longer written.
// Advice only: on a closed segment, with a write in flight, or if the kernel refuses, nothing changes.
Napi::Value Segment::ReleaseMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (index_ == nullptr || runs_ == nullptr || busy_.load()) return env.Undefined();
  madvise(index_, capacity_ * sizeof(uint64_t), MADV_DONTNEED);
  madvise(runs_, capacity_ * sizeof(RunEntry), MADV_DONTNEED);
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
