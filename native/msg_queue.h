// msg_queue.h: the SysV message queue primitives behind `msgq://` (see msg_queue.cc).
#pragma once
#include <napi.h>

namespace switchyard {
void InitMsgQueue(Napi::Env env, Napi::Object exports);
}
