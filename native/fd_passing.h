// fd_passing.h: handing an fd to another process over a Unix socket (SCM_RIGHTS), asking the
// kernel who is on the other end of one (SO_PEERCRED), and reading an fd's seals.
#pragma once
#include <napi.h>

namespace switchyard {
void InitFdPassing(Napi::Env env, Napi::Object exports);
}
