// Errors crossing into JavaScript. The addon never invents its own error types: JavaScript hands
// it a factory at initialisation (see src/storage/native.ts), and every failure is built by it.
#pragma once
#include <napi.h>

#include <string>

namespace loghouse {

// Codes understood by the factory: "IO" (with an errno) and "CORRUPT".
void SetErrorFactory(Napi::Function factory);
Napi::Value MakeError(Napi::Env env, const std::string& code, const std::string& message, int errnum);
void ThrowError(Napi::Env env, const std::string& code, const std::string& message, int errnum);
void ThrowTypeError(Napi::Env env, const std::string& message);

}  // namespace loghouse
