// addon.cc: module entry point. Registers each native area's functions on `exports` and
// owns the per-environment AddonData (freed by N-API when the environment goes away).
#include <napi.h>
#include "errors.h"
#include "fd.h"
#include "fd_passing.h"
#include "msg_queue.h"
#include "shm_link.h"

namespace switchyard {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
  InitFd(env, exports);
  InitFdPassing(env, exports);
  InitMsgQueue(env, exports);
  InitShm(env, exports);
  return exports;
}

}  // namespace switchyard

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return switchyard::Init(env, exports); }

NODE_API_MODULE(switchyard, InitAddon)
