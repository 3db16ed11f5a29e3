// A unit of blocking work (write, fsync, truncate) run on libuv's thread pool and settled as a
// promise, so the event loop never waits for the disk.
#pragma once
#include <napi.h>

#include <functional>
#include <string>

namespace loghouse {

struct TaskResult {
  int errnum = 0;       // 0 on success
  std::string message;  // what failed, when errnum != 0
};

// Runs `work` off the main thread; `done` then runs on the main thread before the promise resolves
// (it may be empty). `keepAlive` holds JavaScript values (buffers being written) until completion.
Napi::Promise RunTask(Napi::Env env, std::function<TaskResult()> work, std::function<void()> done,
                      Napi::Value keepAlive);

}  // namespace loghouse
