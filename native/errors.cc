// errors.cc: errno -> TransportError through the factory registered from TypeScript.
// Without a registered factory (only possible if someone loads the .node file directly),
// falls back to a plain Error carrying the same fields, so nothing is ever silently lost.
#include "errors.h"
#include <cstring>

namespace switchyard {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& address) {
  auto* data = env.GetInstanceData<AddonData>();
  if (data != nullptr && !data->makeError.IsEmpty()) {
    Napi::Value e = data->makeError.Call({Napi::Number::New(env, err), Napi::String::New(env, syscall),
                                          Napi::String::New(env, address)});
    return Napi::Error(env, e);
  }
  std::string msg = std::string(syscall) + ": " + std::strerror(err);
  if (!address.empty()) msg += " (" + address + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& address) {
  throw ErrnoError(env, err, syscall, address);
}

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  auto* data = info.Env().GetInstanceData<AddonData>();
  data->makeError = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace switchyard
