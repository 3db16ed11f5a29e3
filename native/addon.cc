// Module entry: the Segment class plus the few batch-shaped functions around it. The TypeScript
// declaration of everything exported here is src/storage/native.ts.
#include <napi.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

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

// encode(values: Uint8Array[], firstOffset, term, timestampMs, type): Buffer of sealed frames, the
// records taking consecutive offsets from firstOffset.
Napi::Value Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 5 || !info[0].IsArray() || !IsSafeInteger(info[1], kSafeIntegerMax) ||
      !IsSafeInteger(info[2], kSafeIntegerMax) || !IsSafeInteger(info[3], kSafeIntegerMax) ||
      !IsSafeInteger(info[4], 4294967295.0)) {
    ThrowTypeError(env, "encode(values: Uint8Array[], firstOffset, term, timestampMs, type)");
    return env.Undefined();
  }
  // The raw C API here: one napi_get_element and one napi_get_typedarray_info per value keeps the
  // crossing cost per record near 100 ns, which matters at a million records a second.
  napi_value values = info[0];
  uint32_t count = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_array_length(env, values, &count), env.Undefined());
  std::vector<std::pair<const uint8_t*, size_t>> arrays(count);
  size_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value value;
    NAPI_THROW_IF_FAILED(env, napi_get_element(env, values, i, &value), env.Undefined());
    napi_typedarray_type type;
    void* data = nullptr;
    size_t length = 0;
    if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
      if (env.IsExceptionPending()) env.GetAndClearPendingException();
      ThrowTypeError(env, "encode: every value must be a Uint8Array");
      return env.Undefined();
    }
    if (length > kValueBytesHardMax) {
      ThrowTypeError(env, "encode: a value is larger than any record may be");
      return env.Undefined();
    }
    arrays[i] = {static_cast<const uint8_t*>(data), length};
    total += kFrameHeaderBytes + length;
  }
  FrameHeader header{};
  header.offset = static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  header.term = static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue());
  header.timestampMs = static_cast<uint64_t>(info[3].As<Napi::Number>().DoubleValue());
  header.type = static_cast<uint32_t>(info[4].As<Napi::Number>().DoubleValue());
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, total);
  uint8_t* cursor = out.Data();
  for (const auto& [data, length] : arrays) {
    header.valueLength = static_cast<uint32_t>(length);
    WriteFrameHeader(cursor, header);
    if (length > 0) std::memcpy(cursor + kFrameHeaderBytes, data, length);
    SealFrame(cursor);
    cursor += kFrameHeaderBytes + length;
    header.offset++;
  }
  return out;
}

// verifyFrames(frames: Uint8Array, firstOffset): number of frames, all intact and at consecutive
// offsets from firstOffset; throws CORRUPT otherwise. Used on frames that arrive from elsewhere.
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
    size_t frameBytes = 0;
    const FrameCheck check = CheckFrame(frames.Data() + used, frames.ByteLength() - used, offset, &frameBytes);
    if (check != FrameCheck::kOk) {
      ThrowError(env, "CORRUPT",
                 std::string(DescribeFrameCheck(check)) + " in received frame for offset " + std::to_string(offset), 0);
      return env.Undefined();
    }
    used += frameBytes;
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
  return exports;
}

}  // namespace loghouse

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return loghouse::Init(env, exports); }

NODE_API_MODULE(loghouse_native, InitModule)
