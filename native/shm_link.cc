// shm_link.cc: N-API wrapper of shm::Endpoint (class ShmEndpoint) and the syscalls that make
// segment fds (memfd_create, shm_open, shm_unlink).
//
// Owns: the mapping (through the Endpoint), the waiter thread, its thread-safe function, an
// external ArrayBuffer over the whole mapping (JavaScript writes payloads into claimed regions
// and reads payloads out of records there; headers, padding and the wrap are shm_ring.cc's),
// and `io`, a small Float64Array through which claim() and read() return their extra results
// (one allocation per link instead of an object per call on the hot path).
// Lifetime: close() stops and joins the waiter, releases the thread-safe function, detaches
// the ArrayBuffer (every view into the ring becomes empty, so a frame kept past its callback
// reads nothing rather than freed memory) and only then unmaps. The thread-safe function holds
// a reference to this object until it is finalized, so the waiter's last report can never
// reach a destroyed object. Segment fds are never owned here: JavaScript closes them.
// After close() the position calls return -1 and do nothing: never a touch of unmapped memory.
// Arguments are validated in TypeScript (src/transports/shm*.ts); here they are trusted.
#include "shm_link.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>

#include "errors.h"
#include "shm_ring.h"

namespace switchyard {
namespace {

class ShmEndpoint : public Napi::ObjectWrap<ShmEndpoint> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ShmEndpoint",
                       {
                           InstanceMethod<&ShmEndpoint::Claim>("claim"),
                           InstanceMethod<&ShmEndpoint::Commit>("commit"),
                           InstanceMethod<&ShmEndpoint::Read>("read"),
                           InstanceMethod<&ShmEndpoint::WantSpace>("wantSpace"),
                           InstanceMethod<&ShmEndpoint::Release>("release"),
                           InstanceMethod<&ShmEndpoint::Available>("available"),
                           InstanceMethod<&ShmEndpoint::Rebase>("rebase"),
                           InstanceMethod<&ShmEndpoint::Close>("close"),
                       });
  }

  // new ShmEndpoint(fd, side, capacity, spinNs, onEvents)
  explicit ShmEndpoint(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ShmEndpoint>(info) {
    Napi::Env env = info.Env();
    int fd = info[0].As<Napi::Number>().Int32Value();
    int side = info[1].As<Napi::Number>().Int32Value();
    uint64_t capacity = static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue());
    uint64_t spinNs = static_cast<uint64_t>(info[3].As<Napi::Number>().DoubleValue());
    Napi::Function onEvents = info[4].As<Napi::Function>();
    int err = ep_.Map(fd, side, capacity);
    if (err != 0) ThrowErrno(env, err, err == EPROTO ? "shm attach" : "mmap");
    // The waiter first, while a failure can still be undone by unmapping alone (the thread-safe
    // function's finalizer, made below, would outlive a constructor that throws). It reports
    // nothing before JavaScript arms it (Release/WantSpace, after construction), and arming
    // is a release store it acquires, so it sees tsfn_ set by then.
    int started = ep_.Start(spinNs, [this](uint32_t ev) {
      if (pending_.fetch_or(ev, std::memory_order_acq_rel) != 0) return;  // a call is already queued
      tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function cb) {
        uint32_t events = pending_.exchange(0, std::memory_order_acq_rel);
        if (events != 0 && !closed_) cb.Call({Napi::Number::New(env, events)});
      });
    });
    if (started != 0) {
      // No waiter thread (a thread limit): this link fails to open, the process goes on.
      ep_.Close();
      ThrowErrno(env, started, "pthread_create");
    }
    env_ = env;
    Napi::ArrayBuffer memory = Napi::ArrayBuffer::New(env, ep_.base(), ep_.bytes());
    memory_ = Napi::Persistent(memory);
    Napi::Object self = info.This().As<Napi::Object>();
    self.Set("memory", memory);
    self.Set("capacity", Napi::Number::New(env, static_cast<double>(ep_.capacity())));
    self.Set("sendOffset", Napi::Number::New(env, static_cast<double>(ep_.sendOffset())));
    self.Set("receiveOffset", Napi::Number::New(env, static_cast<double>(ep_.receiveOffset())));
    Napi::Float64Array io = Napi::Float64Array::New(env, kIoSlots);
    io_ = io.Data();
    ioRef_ = Napi::Persistent(io);
    self.Set("io", io);
    selfRef_ = Napi::Persistent(self);
    tsfn_ = Napi::ThreadSafeFunction::New(env, onEvents, "switchyard shm waiter", 0, 1,
                                          [this](Napi::Env) { selfRef_.Reset(); });
    // An open link keeps the process alive through its liveness socket, not through this.
    tsfn_.Unref(env);
    napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
    hooked_ = true;
  }

  ~ShmEndpoint() override {
    if (!closed_) {
      // Only at environment teardown: views into the mapping may still exist, so leave it.
      ep_.StopWaiter();
      ep_.ForgetMapping();
    }
    Unhook();
  }

 private:
  static void OnEnvCleanup(void* arg) {
    auto* self = static_cast<ShmEndpoint*>(arg);
    self->hooked_ = false;
    self->ep_.StopWaiter();
  }

  void Unhook() {
    if (hooked_) {
      napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
      hooked_ = false;
    }
  }

  // Receive-ring positions cross into JavaScript relative to a base (rxBase_): a double holds
  // integers exactly only up to 2^53, and a link at tens of GB/s gets there in days.
  // JavaScript moves the base forward with rebase() long before; the shared memory and the
  // Endpoint keep the absolute u64 positions, and Read() checks the peer's position in those
  // (a peer's position below our base would come back from available() as a huge number,
  // which only ever means "look": Read() then reports it).

  // claim(minBytes, maxBytes) -> offset in `memory` of the claimed payload, io[0] = its room;
  // or a kClaim* code below 0.
  Napi::Value Claim(const Napi::CallbackInfo& info) {
    if (closed_) return Napi::Number::New(info.Env(), shm::kClaimFull);
    uint32_t minBytes = info[0].As<Napi::Number>().Uint32Value();
    uint32_t maxBytes = info[1].As<Napi::Number>().Uint32Value();
    uint32_t room = 0;
    int64_t at = ep_.Claim(minBytes, maxBytes, &room);
    io_[0] = room;
    return Napi::Number::New(info.Env(), static_cast<double>(at));
  }

  // commit(length, flags) -> kCommitOk or a kCommit* code below 0.
  Napi::Value Commit(const Napi::CallbackInfo& info) {
    if (closed_) return Napi::Number::New(info.Env(), shm::kCommitNoClaim);
    uint32_t length = info[0].As<Napi::Number>().Uint32Value();
    uint32_t flags = info[1].As<Napi::Number>().Uint32Value();
    return Napi::Number::New(info.Env(), ep_.Commit(length, flags));
  }

  // read() -> kReadRecord (io[0] offset in `memory`, io[1] length, io[2] flags), kReadEmpty,
  // or a kRead* code below 0. io[3] is always the read position after it, padding included.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    if (closed_) return Napi::Number::New(info.Env(), shm::kReadEmpty);
    shm::RecordView r;
    int got = ep_.Read(&r);
    if (got == shm::kReadRecord) {
      io_[0] = static_cast<double>(r.offset);
      io_[1] = r.length;
      io_[2] = r.flags;
    }
    io_[3] = static_cast<double>(ep_.readPosition() - rxBase_);
    return Napi::Number::New(info.Env(), got);
  }

  // wantSpace(): report eventSpace once the send ring's consumer moves past what claim() saw.
  Napi::Value WantSpace(const Napi::CallbackInfo& info) {
    if (closed_) return info.Env().Undefined();
    ep_.WantSpace();
    return info.Env().Undefined();
  }

  // release(position, arm) -> the receive ring's producer position
  Napi::Value Release(const Napi::CallbackInfo& info) {
    if (closed_) return Napi::Number::New(info.Env(), -1);
    uint64_t pos = static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
    bool arm = info[1].As<Napi::Boolean>().Value();
    return Number(info.Env(), ep_.Release(rxBase_ + pos, arm) - rxBase_);
  }

  // available(seen?) -> the receive ring's producer position. With `seen` (spin mode's poll),
  // yields the core once if the position is still `seen`, so two spinning processes on a
  // small machine let each other run instead of burning each other's time slices.
  Napi::Value Available(const Napi::CallbackInfo& info) {
    if (closed_) return Napi::Number::New(info.Env(), -1);
    uint64_t pos = ep_.Available() - rxBase_;
    if (info.Length() > 0 && info[0].IsNumber() && pos == static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue())) {
      sched_yield();
      pos = ep_.Available() - rxBase_;
    }
    return Number(info.Env(), pos);
  }

  // rebase(receiveDelta): receive-ring positions passed from now on are that much lower.
  // (The send ring's positions never leave native code: claim/commit keep them here.)
  Napi::Value Rebase(const Napi::CallbackInfo& info) {
    if (closed_) return info.Env().Undefined();
    rxBase_ += static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue());
    return info.Env().Undefined();
  }

  static Napi::Value Number(Napi::Env env, uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseNow();
    return info.Env().Undefined();
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    ep_.StopWaiter();
    Unhook();
    tsfn_.Release();
    Napi::ArrayBuffer memory = memory_.Value();
    if (!memory.IsDetached()) memory.Detach();
    memory_.Reset();
    ioRef_.Reset();
    io_ = nullptr;
    ep_.Close();
  }

  static constexpr size_t kIoSlots = 4;
  shm::Endpoint ep_;
  uint64_t rxBase_ = 0;
  double* io_ = nullptr;  // kept alive by ioRef_; the backing store of a typed array never moves
  Napi::Reference<Napi::Float64Array> ioRef_;
  napi_env env_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> memory_;
  Napi::ObjectReference selfRef_;
  Napi::ThreadSafeFunction tsfn_;
  std::atomic<uint32_t> pending_{0};
  bool closed_ = false;
  bool hooked_ = false;
};

// shmMemfd(bytes) -> fd: an anonymous segment (nothing in /dev/shm), O_CLOEXEC, mode 0600,
// sealed against resizing: a peer that could shrink it would turn our next ring access into
// SIGBUS. memfd_create makes its inode 0777; it has no name, but the rule is 0600 for every
// object we create, so it is narrowed before anyone else can hold it.
Napi::Value ShmMemfd(const Napi::CallbackInfo& info) {
  off_t bytes = static_cast<off_t>(info[0].As<Napi::Number>().DoubleValue());
  int fd = memfd_create("switchyard-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) ThrowErrno(info.Env(), errno, "memfd_create");
  const char* step = "ftruncate";
  int err = 0;
  if (fchmod(fd, 0600) != 0) {
    err = errno;
    step = "fchmod";
  } else if (ftruncate(fd, bytes) != 0) {
    err = errno;
  } else if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    err = errno;
    step = "fcntl(F_ADD_SEALS)";
  }
  if (err != 0) {
    close(fd);
    ThrowErrno(info.Env(), err, step);
  }
  return Napi::Number::New(info.Env(), fd);
}

// shmOpen(name, bytes) -> fd. bytes > 0: create exclusively, mode exactly 0600 (fchmod, so
// the umask cannot change it), sized to `bytes`. bytes == 0: open an existing one read-write.
Napi::Value ShmOpen(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  off_t bytes = static_cast<off_t>(info[1].As<Napi::Number>().DoubleValue());
  int flags = O_RDWR | (bytes > 0 ? O_CREAT | O_EXCL : 0);
  int fd = shm_open(name.c_str(), flags, 0600);  // shm_open sets FD_CLOEXEC
  if (fd < 0) ThrowErrno(info.Env(), errno, "shm_open", name);
  if (bytes > 0) {
    int err = 0;
    if (fchmod(fd, 0600) != 0 || ftruncate(fd, bytes) != 0) err = errno;
    if (err != 0) {
      close(fd);
      shm_unlink(name.c_str());
      ThrowErrno(info.Env(), err, "ftruncate", name);
    }
  }
  return Napi::Number::New(info.Env(), fd);
}

// shmUnlink(name) -> true if removed, false if it was already gone.
Napi::Value ShmUnlink(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (shm_unlink(name.c_str()) == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
  ThrowErrno(info.Env(), errno, "shm_unlink", name);
}

}  // namespace

void InitShm(Napi::Env env, Napi::Object exports) {
  exports.Set("ShmEndpoint", ShmEndpoint::Define(env));
  exports.Set("shmMemfd", Napi::Function::New(env, ShmMemfd, "shmMemfd"));
  exports.Set("shmOpen", Napi::Function::New(env, ShmOpen, "shmOpen"));
  exports.Set("shmUnlink", Napi::Function::New(env, ShmUnlink, "shmUnlink"));
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("headerBytes", Napi::Number::New(env, shm::kHeaderBytes));
  layout.Set("recordHeader", Napi::Number::New(env, shm::kRecordHeader));
  layout.Set("flagData", Napi::Number::New(env, shm::kFlagData));
  layout.Set("flagPadding", Napi::Number::New(env, shm::kFlagPadding));
  layout.Set("flagPiece", Napi::Number::New(env, shm::kFlagPiece));
  layout.Set("eventData", Napi::Number::New(env, shm::kEventData));
  layout.Set("eventSpace", Napi::Number::New(env, shm::kEventSpace));
  layout.Set("claimFull", Napi::Number::New(env, shm::kClaimFull));
  layout.Set("claimCorrupt", Napi::Number::New(env, shm::kClaimCorrupt));
  layout.Set("readRecord", Napi::Number::New(env, shm::kReadRecord));
  layout.Set("readEmpty", Napi::Number::New(env, shm::kReadEmpty));
  layout.Set("version", Napi::Number::New(env, shm::kVersion));
  exports.Set("shmLayout", layout);
}

}  // namespace switchyard
