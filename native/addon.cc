// Module entry: the Segment class plus the few batch-shaped functions around it. The TypeScript
// declaration of everything exported here is src/storage/native.ts.
#include <napi.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cmath>

#include "allocator.h"
#include "errors.h"
#include "frame.h"
#include "segment.h"

namespace loghouse {
namespace {

constexpr double kSafeIntegerMax = 9007199254740991.0;

bool IsSafeInteger(const Napi::Value& value, double max) {
  if (!value.IsNumber()) return false;
  const double number = value.As<Napi::Number>().DoubleValue();
  return number >= 0 && number <= max && std::floor(number) == number;
}

// initialize(errorFactory: (code, message, errno) => Error)
Napi::Value Initialize(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsFunction()) {
    ThrowTypeError(info.Env(), "initialize(errorFactory)");
    return info.Env().Undefined();
  }
  SetErrorFactory(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

bool IsTypedArrayOf(const Napi::Value& value, napi_typedarray_type type) {
  return value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == type;
}

bool ReadMetadata(const Napi::CallbackInfo& info, size_t first, RecordMetadata* metadata) {
  if (!IsSafeInteger(info[first], kSafeIntegerMax) || !IsSafeInteger(info[first + 1], kSafeIntegerMax) ||
      !IsSafeInteger(info[first + 2], 4294967295.0) || info[first + 1].As<Napi::Number>().DoubleValue() < 1) {
    return false;
  }
  metadata->term = static_cast<uint64_t>(info[first].As<Napi::Number>().DoubleValue());
  metadata->timestampMs = static_cast<uint64_t>(info[first + 1].As<Napi::Number>().DoubleValue());
  metadata->type = static_cast<uint32_t>(info[first + 2].As<Napi::Number>().DoubleValue());
  return true;
}

// encode(bytes: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, firstOffset, term, timestampMs,
// type, into: Uint8Array): writes into `into` (exactly their length) the sealed frames for the values
// bytes[offsets[i], offsets[i] + lengths[i]), at consecutive offsets from firstOffset: one full
// frame, then compact ones. The caller provides the memory so that it can use it again for the next
// batch once this one is written. The values may lie anywhere in `bytes` (a ProduceBatch request
// keeps its protobuf tags and lengths between them), so each is copied once, from where it lies
// straight into its frame, as its checksum is computed.
// Reading them from one buffer costs one crossing for the batch; an array of buffers would cost one
// napi call per value.
Napi::Value Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RecordMetadata metadata;
  if (info.Length() != 8 || !IsTypedArrayOf(info[0], napi_uint8_array) || !IsTypedArrayOf(info[1], napi_uint32_array) ||
      !IsTypedArrayOf(info[2], napi_uint32_array) || !IsSafeInteger(info[3], kSafeIntegerMax) || !ReadMetadata(info, 4, &metadata) || !IsTypedArrayOf(info[7], napi_uint8_array)) {
    ThrowTypeError(env, "encode(bytes: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, firstOffset, term, timestampMs >= 1, type, into: Uint8Array)");
    return env.Undefined();
  }
  Napi::TypedArrayOf<uint8_t> bytes = info[0].As<Napi::TypedArrayOf<uint8_t>>();
  Napi::TypedArrayOf<uint32_t> offsets = info[1].As<Napi::TypedArrayOf<uint32_t>>();
  Napi::TypedArrayOf<uint32_t> lengths = info[2].As<Napi::TypedArrayOf<uint32_t>>();
  const size_t count = lengths.ElementLength();
  if (count == 0 || offsets.ElementLength() != count) {
    ThrowTypeError(env, "encode: offsets and lengths must be non-empty and as long as each other");
    return env.Undefined();
  }
  size_t valueBytes = 0;
  for (size_t i = 0; i < count; i++) {
    if (lengths[i] > kValueBytesHardMax) {
      ThrowTypeError(env, "encode: a value is larger than any record may be");
      return env.Undefined();
    }
    // Both are below 2^32, so their sum cannot wrap a 64-bit size_t.
    if (static_cast<size_t>(offsets[i]) + lengths[i] > bytes.ByteLength()) {
      ThrowTypeError(env, "encode: a value runs past the end of its bytes");
      return env.Undefined();
    }
    valueBytes += lengths[i];
  }
  uint64_t offset = static_cast<uint64_t>(info[3].As<Napi::Number>().DoubleValue());
  const size_t total = kFullHeaderBytes + (count - 1) * kCompactHeaderBytes + valueBytes;
  Napi::TypedArrayOf<uint8_t> into = info[7].As<Napi::TypedArrayOf<uint8_t>>();
  if (into.ByteLength() != total) {
    ThrowTypeError(env, "encode: into must be exactly as long as the frames");
    return env.Undefined();
  }
  // Frames written over values not yet read would be stored with valid checksums: refuse the overlap.
  if (into.Data() < bytes.Data() + bytes.ByteLength() && bytes.Data() < into.Data() + total) {
    ThrowTypeError(env, "encode: into overlaps the values' bytes");
    return env.Undefined();
  }
  uint8_t* cursor = into.Data();
  const uint8_t* values = bytes.Data();
  WriteFullFrame(cursor, offset, metadata, values + offsets[0], lengths[0]);
  cursor += kFullHeaderBytes + lengths[0];
  for (size_t i = 1; i < count; i++) {
    WriteCompactFrame(cursor, ++offset, values + offsets[i], lengths[i]);
    cursor += kCompactHeaderBytes + lengths[i];
  }
  assert(cursor == into.Data() + total);
  return env.Undefined();
}

// verifyFrames(frames: Uint8Array, firstOffset): number of frames, all intact, at consecutive
// offsets from firstOffset, the first one full; throws CORRUPT otherwise. For frames received from
// elsewhere.
Napi::Value VerifyFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsTypedArray() || !IsSafeInteger(info[1], kSafeIntegerMax)) {
    ThrowTypeError(env, "verifyFrames(frames: Uint8Array, firstOffset)");
    return env.Undefined();
  }
  Napi::TypedArrayOf<uint8_t> frames = info[0].As<Napi::TypedArrayOf<uint8_t>>();
  uint64_t offset = static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  size_t used = 0;
  uint32_t count = 0;
  while (used < frames.ByteLength()) {
    FrameView view;
    const FrameCheck check = CheckFrame(frames.Data() + used, frames.ByteLength() - used, offset, &view);
    if (check != FrameCheck::kOk || (count == 0 && !view.full)) {
      ThrowError(env, "CORRUPT",
                 std::string(check == FrameCheck::kOk ? "first frame carries no metadata" : DescribeFrameCheck(check)) +
                     " in received frame for offset " + std::to_string(offset),
                 0);
      return env.Undefined();
    }
    used += view.Bytes();
    offset++;
    count++;
  }
  return Napi::Number::New(env, count);
}

// lockDirectory(path): an open descriptor holding an exclusive advisory lock on the directory, so
// two processes never write one log. The kernel drops the lock when the process dies.
Napi::Value LockDirectory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) {
    ThrowTypeError(env, "lockDirectory(path)");
    return env.Undefined();
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    ThrowError(env, "IO", "open directory " + path, errno);
    return env.Undefined();
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int errnum = errno;
    close(fd);
    ThrowError(env, errnum == EWOULDBLOCK ? "LOCKED" : "IO", "lock directory " + path, errnum);
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// unlockDirectory(fd): releases a lock taken by lockDirectory.
Napi::Value UnlockDirectory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !IsSafeInteger(info[0], 2147483647.0)) {
    ThrowTypeError(env, "unlockDirectory(fd)");
    return env.Undefined();
  }
  close(static_cast<int>(info[0].As<Napi::Number>().Int32Value()));
  return env.Undefined();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Segment", Segment::Define(env));
  exports.Set("initialize", Napi::Function::New<Initialize>(env, "initialize"));
  exports.Set("encode", Napi::Function::New<Encode>(env, "encode"));
  exports.Set("verifyFrames", Napi::Function::New<VerifyFrames>(env, "verifyFrames"));
  exports.Set("lockDirectory", Napi::Function::New<LockDirectory>(env, "lockDirectory"));
  exports.Set("unlockDirectory", Napi::Function::New<UnlockDirectory>(env, "unlockDirectory"));
  exports.Set("tuneAllocator", Napi::Function::New<TuneAllocator>(env, "tuneAllocator"));
  return exports;
}

}  // namespace loghouse

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return loghouse::Init(env, exports); }

NODE_API_MODULE(loghouse_native, InitModule)
