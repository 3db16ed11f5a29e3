// A node passes megabytes a second through buffers of about a megabyte each outside the JavaScript
// heap: a request assembled from its HTTP/2 chunks, a Raft message encoded for the followers, one
// joined from a follower's socket chunks. glibc's malloc serves the first blocks that large with a
// fresh mmap; once one is freed it raises its mmap threshold to that size, but also its trim
// threshold to only twice that, so the heap keeps giving the memory back and taking it again, and
// the buffers are faulted in page by page and zeroed by the kernel: joining 1 MB from 64 kB chunks
// took 350-940 µs into such memory, 110 µs into memory malloc kept (issue 12). Fixed thresholds
// keep those blocks in the heap, used again: the mmap threshold above the largest message, the trim
// threshold (how much free memory the heap keeps at its top before it gives some back) well above
// what a burst of messages frees. Measured: a 3-node cluster under 4 x 1 MB batches of 1 kB
// records spent about a fifth less CPU per record (nodes' peak RSS unchanged, 140-210 MB); with
// 100-byte records, where the cost is per record rather than per byte, no change beyond noise. The node asks for it at start (src/cli/serve.ts); a program
// that only uses the storage library keeps its allocator as it was, and so does a node whose operator
// set malloc's parameters in its environment. Elsewhere than glibc, or when glibc refuses: false.
#include "allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "errors.h"

namespace loghouse {

Napi::Value TuneAllocator(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    ThrowTypeError(env, "tuneAllocator(mmapThresholdBytes, trimThresholdBytes)");
    return env.Undefined();
  }
  const double mmapThreshold = info[0].As<Napi::Number>().DoubleValue();
  const double trimThreshold = info[1].As<Napi::Number>().DoubleValue();
  if (!(mmapThreshold > 0 && mmapThreshold <= 2147483647.0 && trimThreshold > 0 && trimThreshold <= 2147483647.0)) {
    ThrowTypeError(env, "tuneAllocator: thresholds are positive 32-bit byte counts");
    return env.Undefined();
  }
#if defined(__GLIBC__)
  // mallopt returns 1 on success; glibc refuses an mmap threshold above 32 MiB on 64-bit systems.
  const bool tuned = mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmapThreshold)) == 1 && mallopt(M_TRIM_THRESHOLD, static_cast<int>(trimThreshold)) == 1;
  return Napi::Boolean::New(env, tuned);
#else
  return Napi::Boolean::New(env, false);
#endif
}

}  // namespace loghouse
