// A node passes megabytes a second through buffers of about a megabyte each outside the JavaScript
// heap: a request assembled from its HTTP/2 chunks, a Raft message encoded for the followers, one
// joined from a follower's socket chunks. glibc's malloc serves a block that large with a fresh
// mmap and unmaps it when freed, so every such buffer is faulted in page by page (256 faults a MB)
// and zeroed by the kernel: joining 1 MB from 64 kB chunks took 350-940 µs into fresh memory and
// 110 µs into memory malloc kept (issue 12). Raising the mmap threshold above the largest message
// keeps those blocks in the heap, used again; the trim threshold bounds how much free memory the
// heap keeps before it gives some back. Measured: a 3-node cluster under 4 x 1 MB batches of 1 kB
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
