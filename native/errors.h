// errors.h: the one way native code reports a failed syscall.
//
// Owns: the reference to the JS error factory that src/native.ts registers at load time
// (makeTransportError(errno, syscall, address) -> TransportError). Native code never builds
// its own Error subclasses, so `instanceof TransportError` holds for every failure that
// crosses the boundary, and `code` is computed in one place (TypeScript).
// Invariant: the factory is per napi_env (instance data), so worker threads each get their own.
#pragma once
#include <napi.h>
#include <string>

namespace switchyard {

struct AddonData {
  Napi::FunctionReference makeError;  // set by setErrorFactory(); empty until then
};

// Builds the error for `err` (a positive errno) and returns it; the caller throws it.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& address = "");

// Throws a JS exception for `err`; use as `throw ErrnoError(...)` under NAPI_CPP_EXCEPTIONS.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& address = "");

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info);

}  // namespace switchyard
