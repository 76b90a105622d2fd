// shm_link.h: the N-API surface of the shared-memory transport (ShmEndpoint class and the
// segment fd helpers). See shm_ring.h for the segment itself.
#pragma once
#include <napi.h>

namespace switchyard {
void InitShm(Napi::Env env, Napi::Object exports);
}
