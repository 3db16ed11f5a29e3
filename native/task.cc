#include "task.h"

#include <utility>

#include "errors.h"

namespace loghouse {
namespace {

class Task final : public Napi::AsyncWorker {
 public:
  Task(Napi::Env env, std::function<TaskResult()> work, std::function<void()> done, Napi::Value keepAlive)
      : Napi::AsyncWorker(env, "loghouse:task"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        done_(std::move(done)) {
    if (!keepAlive.IsUndefined()) keepAlive_ = Napi::Persistent(keepAlive.As<Napi::Object>());
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override { result_ = work_(); }

  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (done_) done_();
    if (result_.errnum == 0) {
      deferred_.Resolve(Env().Undefined());
    } else {
      deferred_.Reject(MakeError(Env(), "IO", result_.message, result_.errnum));
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<TaskResult()> work_;
  std::function<void()> done_;
  Napi::ObjectReference keepAlive_;
  TaskResult result_;
};

}  // namespace

Napi::Promise RunTask(Napi::Env env, std::function<TaskResult()> work, std::function<void()> done,
                      Napi::Value keepAlive) {
  auto* task = new Task(env, std::move(work), std::move(done), keepAlive);
  Napi::Promise promise = task->Promise();
  task->Queue();
  return promise;
}

}  // namespace loghouse
