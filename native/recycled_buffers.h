// recycled_buffers.h: large Buffers whose memory goes back to a bounded free list when the
// garbage collector frees them, instead of back to malloc (see recycled_buffers.cc).
#pragma once
#include <napi.h>

namespace switchyard {
void InitRecycledBuffers(Napi::Env env, Napi::Object exports);
}  // namespace switchyard
