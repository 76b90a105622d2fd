// fd.h: the file-descriptor helpers (pipe, socketpair, mkfifo, cloexec/nonblock, flock, a listening Unix socket).
#pragma once
#include <napi.h>

namespace switchyard {
void InitFd(Napi::Env env, Napi::Object exports);
}
