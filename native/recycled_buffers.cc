// recycled_buffers.cc: large Buffers over memory that the garbage collector hands back to a
// free list of ours, so the next large Buffer reuses pages that are already mapped.
//
// Why: a receiver that copies each 64 KiB or 1 MiB payload out of the shm ring into a new
// Buffer spent most of its time not copying but getting fresh memory: malloc's large
// allocations are mmap'ed (or trimmed back to the kernel) and every page of every new Buffer
// page-faulted on its first write (150 faults per 1 MiB message, 350 us of a 1 MiB message's
// 356 us). Reused blocks fault nothing.
//
// Invariants:
// - A block is on the free list only after V8 freed every view of its Buffer (the external
//   Buffer's finalizer is the only way back), so memory a script can still reach is never
//   handed out twice.
// - Blocks come in power-of-two classes from 16 KiB to 64 MiB; a Buffer's length is what was
//   asked for (its ArrayBuffer is exactly that long), the rest of its block is unreachable.
// - The free list holds at most kCacheBytes; beyond that a returned block is freed. The pool
//   is process-wide (worker threads share it) and guarded by a mutex, because a finalizer may
//   run on another thread; it is never destroyed, so a finalizer at exit finds it.
// - Contents of a new Buffer are not zeroed: callers write every byte before anyone reads it.
#include "recycled_buffers.h"

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace switchyard {
namespace {

constexpr unsigned kMinShift = 14;  // 16 KiB
constexpr unsigned kMaxShift = 26;  // 64 MiB
constexpr unsigned kClasses = kMaxShift - kMinShift + 1;
constexpr size_t kCacheBytes = size_t{32} << 20;

struct Pool {
  std::mutex mu;
  std::vector<void*> free[kClasses];
  size_t cached = 0;  // bytes on the free lists
  double reused = 0;  // blocks handed out again (for tests and the bench's curiosity)
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: see the header
  return *p;
}

// The class of a length, or -1 when it is too large to pool.
int ClassOf(size_t n) {
  unsigned shift = kMinShift;
  while (shift <= kMaxShift && (size_t{1} << shift) < n) shift++;
  return shift > kMaxShift ? -1 : static_cast<int>(shift - kMinShift);
}

void* Take(int cls) {
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    std::vector<void*>& list = p.free[cls];
    if (!list.empty()) {
      void* block = list.back();  // the most recently returned: likeliest still in cache
      list.pop_back();
      p.cached -= size_t{1} << (cls + kMinShift);
      p.reused++;
      return block;
    }
  }
  return std::malloc(size_t{1} << (cls + kMinShift));
}

void Give(uint8_t* data, int cls) {
  Pool& p = pool();
  const size_t size = size_t{1} << (cls + kMinShift);
  {
    std::lock_guard<std::mutex> lock(p.mu);
    if (p.cached + size <= kCacheBytes) {
      p.free[cls].push_back(data);
      p.cached += size;
      return;
    }
  }
  std::free(data);
}

void Finalize(Napi::Env, uint8_t* data, void* hint) { Give(data, static_cast<int>(reinterpret_cast<uintptr_t>(hint))); }

// recycledBuffer(length): an uninitialised Buffer of `length` bytes (length validated in TS:
// an integer from 1 to 2^26).
Napi::Value RecycledBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t length = static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue());
  const int cls = ClassOf(length);
  if (length == 0 || cls < 0) {
    Napi::RangeError::New(env, "recycledBuffer: length out of range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* data = static_cast<uint8_t*>(Take(cls));
  if (data == nullptr) {
    Napi::Error::New(env, "recycledBuffer: out of memory").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Buffer<uint8_t>::New(env, data, length, Finalize, reinterpret_cast<void*>(static_cast<uintptr_t>(cls)));
}

// recycledStats(): [bytes on the free lists, blocks handed out again so far].
Napi::Value RecycledStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(uint32_t{0}, Napi::Number::New(env, static_cast<double>(p.cached)));
  out.Set(uint32_t{1}, Napi::Number::New(env, p.reused));
  return out;
}

}  // namespace

void InitRecycledBuffers(Napi::Env env, Napi::Object exports) {
  exports.Set("recycledBuffer", Napi::Function::New(env, RecycledBuffer, "recycledBuffer"));
  exports.Set("recycledStats", Napi::Function::New(env, RecycledStats, "recycledStats"));
  exports.Set("recycledMax", Napi::Number::New(env, static_cast<double>(size_t{1} << kMaxShift)));
}

}  // namespace switchyard
