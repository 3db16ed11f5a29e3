// The process's memory allocator, tuned for a node serving batches (see allocator.cc).
#pragma once
#include <napi.h>

namespace loghouse {

// tuneAllocator(mmapThresholdBytes, trimThresholdBytes): boolean
Napi::Value TuneAllocator(const Napi::CallbackInfo& info);

}  // namespace loghouse
