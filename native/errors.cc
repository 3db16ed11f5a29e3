#include "errors.h"

#include <cstring>

namespace loghouse {
namespace {
Napi::FunctionReference* errorFactory = nullptr;
}

void SetErrorFactory(Napi::Function factory) {
  if (errorFactory == nullptr) errorFactory = new Napi::FunctionReference();
  *errorFactory = Napi::Persistent(factory);
}

Napi::Value MakeError(Napi::Env env, const std::string& code, const std::string& message, int errnum) {
  const std::string text = errnum == 0 ? message : message + ": " + std::strerror(errnum);
  if (errorFactory == nullptr || errorFactory->IsEmpty()) {
    return Napi::Error::New(env, code + ": " + text).Value();
  }
  return errorFactory->Call({Napi::String::New(env, code), Napi::String::New(env, text),
                             Napi::Number::New(env, errnum)});
}

void ThrowError(Napi::Env env, const std::string& code, const std::string& message, int errnum) {
  Napi::Value error = MakeError(env, code, message, errnum);
  if (env.IsExceptionPending()) return;
  Napi::Error(env, error).ThrowAsJavaScriptException();
}

void ThrowTypeError(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

}  // namespace loghouse
