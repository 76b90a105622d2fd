// fd.h: the file-descriptor helpers (pipe, socketpair, mkfifo, cloexec/nonblock).
#pragma once
#include <napi.h>

namespace switchyard {
void InitFd(Napi::Env env, Napi::Object exports);
}
