// msg_queue.cc: SysV message queue primitives for `msgq://` (perlipc "SysV IPC").
//
// Owns: the receive threads (one per MsgReceiver: a blocking msgrcv on one mtype) and the
// copies of pieces handed to sendAsync workers. Policy (handshake, credit, who removes the
// queue, when a peer is gone) lives in src/transports/datagram/msgq.ts; this file only does syscalls.
//
// Invariants:
// - No call made on the JS thread blocks: msgsnd/msgrcv there always use IPC_NOWAIT. Waiting
//   happens on a MsgReceiver's own thread, or on a libuv pool thread in sendAsync, which
//   gives up after `maxWaitMs` without progress (it never parks a pool thread for long).
// - A MsgReceiver's thread is the only writer of its State's `endErrno`, and it writes it
//   before its last TSFN Release(); the finalizer (JS thread) runs after that Release, joins
//   the thread (already finished or finishing) and only then reads `endErrno`. `stop` is an
//   atomic flag the JS thread sets; the thread checks it after every msgrcv.
// - Stopping a thread blocked in msgrcv: stop() sends a zero-length message of the thread's
//   own mtype. Data messages are never empty (they carry at least a kind byte), so an empty
//   message is unambiguously a wake-up. A zero-length message always fits in a queue that
//   has fewer than msg_qbytes messages, so the wake cannot fail for lack of room. IPC_RMID
//   also wakes the thread (EIDRM).
// - Batches: after one blocking msgrcv, the thread takes whatever else is ready with
//   IPC_NOWAIT (up to kBatchBytes/kBatchMessages) and hands it to JS in one call, as records
//   [u32 length, host order][payload]. The TSFN queue is bounded (kMaxQueuedBatches), so a
//   slow JS thread slows the receive thread instead of growing memory.
#include "msg_queue.h"
#include "errors.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>
#include <sys/ipc.h>
#include <sys/msg.h>

namespace switchyard {
namespace {

constexpr size_t kBatchBytes = 256 * 1024;
constexpr size_t kBatchMessages = 256;
constexpr size_t kMaxQueuedBatches = 16;
constexpr size_t kLongBytes = sizeof(long);

// A msgbuf is `long mtype` followed by the text; build one per call (pieces are <= msgmax).
int SendOne(int msqid, long mtype, const uint8_t* data, size_t len, std::vector<uint8_t>& scratch, int flags) {
  scratch.resize(kLongBytes + len);
  std::memcpy(scratch.data(), &mtype, kLongBytes);
  if (len > 0) std::memcpy(scratch.data() + kLongBytes, data, len);
  for (;;) {
    if (::msgsnd(msqid, scratch.data(), len, flags) == 0) return 0;
    if (errno != EINTR) return errno;
  }
}

// msgget(key, create ? IPC_CREAT|IPC_EXCL|mode : 0) -> msqid
Napi::Value MsgGet(const Napi::CallbackInfo& info) {
  key_t key = static_cast<key_t>(info[0].As<Napi::Number>().Int32Value());
  bool create = info[1].As<Napi::Boolean>().Value();
  int mode = info[2].As<Napi::Number>().Int32Value();
  int id = ::msgget(key, create ? (IPC_CREAT | IPC_EXCL | mode) : 0);
  if (id < 0) ThrowErrno(info.Env(), errno, "msgget", "msgq://" + std::to_string(key));
  return Napi::Number::New(info.Env(), id);
}

// msgctl(IPC_STAT) -> { qbytes, cbytes, qnum, lspid, lrpid, uid, cuid, mode }
Napi::Value MsgStat(const Napi::CallbackInfo& info) {
  int msqid = info[0].As<Napi::Number>().Int32Value();
  struct msqid_ds ds;
  if (::msgctl(msqid, IPC_STAT, &ds) != 0) ThrowErrno(info.Env(), errno, "msgctl");
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("qbytes", Napi::Number::New(env, static_cast<double>(ds.msg_qbytes)));
  o.Set("cbytes", Napi::Number::New(env, static_cast<double>(ds.__msg_cbytes)));
  o.Set("qnum", Napi::Number::New(env, static_cast<double>(ds.msg_qnum)));
  o.Set("lspid", Napi::Number::New(env, ds.msg_lspid));
  o.Set("lrpid", Napi::Number::New(env, ds.msg_lrpid));
  o.Set("uid", Napi::Number::New(env, ds.msg_perm.uid));
  o.Set("cuid", Napi::Number::New(env, ds.msg_perm.cuid));
  o.Set("mode", Napi::Number::New(env, ds.msg_perm.mode & 0777));
  return o;
}

// msgctl(IPC_RMID)
Napi::Value MsgRemove(const Napi::CallbackInfo& info) {
  int msqid = info[0].As<Napi::Number>().Int32Value();
  if (::msgctl(msqid, IPC_RMID, nullptr) != 0) ThrowErrno(info.Env(), errno, "msgctl");
  return info.Env().Undefined();
}

// msgsndBatch(msqid, mtype, pieces[], start) -> how many of pieces[start..] were sent
// (IPC_NOWAIT: stops at the first EAGAIN; any other error throws).
Napi::Value MsgSendBatch(const Napi::CallbackInfo& info) {
  static thread_local std::vector<uint8_t> scratch;
  int msqid = info[0].As<Napi::Number>().Int32Value();
  long mtype = static_cast<long>(info[1].As<Napi::Number>().Int64Value());
  Napi::Array pieces = info[2].As<Napi::Array>();
  uint32_t start = info[3].As<Napi::Number>().Uint32Value();
  uint32_t n = pieces.Length();
  uint32_t i = start;
  for (; i < n; i++) {
    Napi::Buffer<uint8_t> b = pieces.Get(i).As<Napi::Buffer<uint8_t>>();
    int err = SendOne(msqid, mtype, b.Data(), b.Length(), scratch, IPC_NOWAIT);
    if (err == EAGAIN) break;
    if (err != 0) ThrowErrno(info.Env(), err, "msgsnd");
  }
  return Napi::Number::New(info.Env(), i - start);
}

// The slow path of sending, when the queue is full: a pool thread retries with IPC_NOWAIT
// and short, growing sleeps (20 us .. 1 ms), and gives up after maxWaitMs without progress.
class SendWorker : public Napi::AsyncWorker {
 public:
  SendWorker(Napi::Function cb, int msqid, long mtype, std::vector<std::vector<uint8_t>> pieces, int maxWaitMs)
      : Napi::AsyncWorker(cb, "switchyard:msgsnd"), msqid_(msqid), mtype_(mtype), pieces_(std::move(pieces)), maxWaitMs_(maxWaitMs) {}

  void Execute() override {
    std::vector<uint8_t> scratch;
    auto lastProgress = std::chrono::steady_clock::now();
    auto sleep = std::chrono::microseconds(20);
    while (sent_ < pieces_.size()) {
      const auto& p = pieces_[sent_];
      int err = SendOne(msqid_, mtype_, p.data(), p.size(), scratch, IPC_NOWAIT);
      if (err == 0) {
        sent_++;
        lastProgress = std::chrono::steady_clock::now();
        sleep = std::chrono::microseconds(20);
        continue;
      }
      if (err != EAGAIN) {
        err_ = err;
        return;
      }
      if (std::chrono::steady_clock::now() - lastProgress > std::chrono::milliseconds(maxWaitMs_)) return;
      std::this_thread::sleep_for(sleep);
      sleep = std::min(sleep * 2, std::chrono::microseconds(1000));
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Value error = err_ != 0 ? ErrnoError(env, err_, "msgsnd").Value() : env.Null();
    Callback().Call({error, Napi::Number::New(env, static_cast<double>(sent_))});
  }

 private:
  int msqid_;
  long mtype_;
  std::vector<std::vector<uint8_t>> pieces_;
  int maxWaitMs_;
  size_t sent_ = 0;
  int err_ = 0;
};

// msgsndAsync(msqid, mtype, pieces[], start, maxWaitMs, cb(err, sent))
Napi::Value MsgSendAsync(const Napi::CallbackInfo& info) {
  int msqid = info[0].As<Napi::Number>().Int32Value();
  long mtype = static_cast<long>(info[1].As<Napi::Number>().Int64Value());
  Napi::Array pieces = info[2].As<Napi::Array>();
  uint32_t start = info[3].As<Napi::Number>().Uint32Value();
  int maxWaitMs = info[4].As<Napi::Number>().Int32Value();
  std::vector<std::vector<uint8_t>> copies;
  for (uint32_t i = start; i < pieces.Length(); i++) {
    Napi::Buffer<uint8_t> b = pieces.Get(i).As<Napi::Buffer<uint8_t>>();
    copies.emplace_back(b.Data(), b.Data() + b.Length());
  }
  auto* w = new SendWorker(info[5].As<Napi::Function>(), msqid, mtype, std::move(copies), maxWaitMs);
  w->Queue();
  return info.Env().Undefined();
}

// msgrcvNoWait(msqid, mtype, maxSize) -> Buffer | null (ENOMSG)
Napi::Value MsgReceiveNoWait(const Napi::CallbackInfo& info) {
  int msqid = info[0].As<Napi::Number>().Int32Value();
  long mtype = static_cast<long>(info[1].As<Napi::Number>().Int64Value());
  size_t maxSize = info[2].As<Napi::Number>().Uint32Value();
  std::vector<uint8_t> buf(kLongBytes + maxSize);
  for (;;) {
    ssize_t n = ::msgrcv(msqid, buf.data(), maxSize, mtype, IPC_NOWAIT);
    if (n >= 0) return Napi::Buffer<uint8_t>::Copy(info.Env(), buf.data() + kLongBytes, static_cast<size_t>(n));
    if (errno == EINTR) continue;
    if (errno == ENOMSG) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "msgrcv");
  }
}

// ---------------------------------------------------------------------------------------
// MsgReceiver: one thread, blocking in msgrcv on one mtype.

struct ReceiverState {
  int msqid;
  long mtype;
  size_t maxSize;
  std::atomic<bool> stop{false};
  std::atomic<bool> running{true};
  int endErrno = 0;  // written by the thread before its last Release(); read by the finalizer
  std::thread thread;
  Napi::FunctionReference onEnd;
};

using Batch = std::vector<uint8_t>;

void DeliverBatch(Napi::Env env, Napi::Function onBatch, Batch* batch) {
  if (env == nullptr) {  // the environment is going away
    delete batch;
    return;
  }
  Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(env, batch->data(), batch->size(), [](Napi::Env, uint8_t*, Batch* b) { delete b; }, batch);
  onBatch.Call({buf});
}

class MsgReceiver : public Napi::ObjectWrap<MsgReceiver> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MsgReceiver", {InstanceMethod("stop", &MsgReceiver::Stop)});
  }

  // new MsgReceiver(msqid, mtype, maxSize, onBatch(buf), onEnd(errno))
  explicit MsgReceiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MsgReceiver>(info) {
    Napi::Env env = info.Env();
    state_ = std::make_shared<ReceiverState>();
    state_->msqid = info[0].As<Napi::Number>().Int32Value();
    state_->mtype = static_cast<long>(info[1].As<Napi::Number>().Int64Value());
    state_->maxSize = info[2].As<Napi::Number>().Uint32Value();
    state_->onEnd = Napi::Persistent(info[4].As<Napi::Function>());
    auto* keep = new std::shared_ptr<ReceiverState>(state_);
    tsfn_ = Napi::ThreadSafeFunction::New(
        env, info[3].As<Napi::Function>(), "switchyard:msgrcv", kMaxQueuedBatches, 1, keep,
        [](Napi::Env env, std::shared_ptr<ReceiverState>* kept) {
          std::shared_ptr<ReceiverState> s = *kept;
          delete kept;
          // Normally the thread has released (it finished, or is about to return). At
          // environment teardown (a worker terminated) it may still be blocked in msgrcv:
          // wake it with its zero-length message, or, if the queue stays full, let it go
          // (detach) rather than hang the teardown; it ends when the queue does.
          s->stop.store(true, std::memory_order_release);
          bool woken = !s->running.load(std::memory_order_acquire);
          std::vector<uint8_t> scratch;
          for (int i = 0; i < 100 && !woken; i++) {
            int err = SendOne(s->msqid, s->mtype, nullptr, 0, scratch, IPC_NOWAIT);
            if (err != EAGAIN) woken = true;  // sent, or the queue is gone (which wakes it too)
            else std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
          if (s->thread.joinable()) {
            if (woken) s->thread.join();
            else s->thread.detach();
          }
          if (env != nullptr && !s->onEnd.IsEmpty()) {
            try {
              s->onEnd.Call({Napi::Number::New(env, s->endErrno)});
            } catch (const Napi::Error&) {
              // the environment is shutting down (a worker terminated): nobody to tell
            }
            s->onEnd.Reset();
          }
        });
    std::shared_ptr<ReceiverState> s = state_;
    Napi::ThreadSafeFunction tsfn = tsfn_;
    state_->thread = std::thread([s, tsfn]() mutable { Run(*s, tsfn); });
  }

 private:
  static void Run(ReceiverState& s, Napi::ThreadSafeFunction tsfn) {
    std::vector<uint8_t> buf(kLongBytes + s.maxSize);
    Batch* batch = nullptr;
    auto take = [&](int flags) -> int {  // 0 on a message, else errno
      for (;;) {
        ssize_t n = ::msgrcv(s.msqid, buf.data(), s.maxSize, s.mtype, flags);
        if (n >= 0) {
          if (n == 0) return 0;  // a wake-up; nothing to deliver
          if (batch == nullptr) batch = new Batch();
          uint32_t len = static_cast<uint32_t>(n);
          size_t at = batch->size();
          batch->resize(at + 4 + len);
          std::memcpy(batch->data() + at, &len, 4);
          std::memcpy(batch->data() + at + 4, buf.data() + kLongBytes, len);
          return 0;
        }
        if (errno != EINTR) return errno;
      }
    };
    while (!s.stop.load(std::memory_order_acquire)) {
      int err = take(0);
      if (err != 0) {
        s.endErrno = err;
        break;
      }
      size_t count = 1;
      while (batch != nullptr && batch->size() < kBatchBytes && count < kBatchMessages && !s.stop.load(std::memory_order_acquire)) {
        err = take(IPC_NOWAIT);
        if (err != 0) break;
        count++;
      }
      if (err != 0 && err != ENOMSG) s.endErrno = err;
      if (s.stop.load(std::memory_order_acquire)) break;
      if (batch != nullptr) {
        if (tsfn.BlockingCall(batch, DeliverBatch) != napi_ok) delete batch;
        batch = nullptr;
      }
      if (s.endErrno != 0) break;
    }
    delete batch;
    s.running.store(false, std::memory_order_release);
    tsfn.Release();
  }

  // stop(): asks the thread to end; onEnd(errno) follows once it has. Returns false if the
  // wake-up could not be sent now (call again later); true once it has been (or is not needed).
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    state_->stop.store(true, std::memory_order_release);
    if (!state_->running.load(std::memory_order_acquire) || woken_) return Napi::Boolean::New(env, true);
    std::vector<uint8_t> scratch;
    int err = SendOne(state_->msqid, state_->mtype, nullptr, 0, scratch, IPC_NOWAIT);
    // EIDRM/EINVAL: the queue is gone, which has woken the thread already.
    if (err == EAGAIN) return Napi::Boolean::New(env, false);
    woken_ = true;
    return Napi::Boolean::New(env, true);
  }

  std::shared_ptr<ReceiverState> state_;
  Napi::ThreadSafeFunction tsfn_;
  bool woken_ = false;
};

}  // namespace

void InitMsgQueue(Napi::Env env, Napi::Object exports) {
  exports.Set("msgget", Napi::Function::New(env, MsgGet, "msgget"));
  exports.Set("msgStat", Napi::Function::New(env, MsgStat, "msgStat"));
  exports.Set("msgRemove", Napi::Function::New(env, MsgRemove, "msgRemove"));
  exports.Set("msgsndBatch", Napi::Function::New(env, MsgSendBatch, "msgsndBatch"));
  exports.Set("msgsndAsync", Napi::Function::New(env, MsgSendAsync, "msgsndAsync"));
  exports.Set("msgrcvNoWait", Napi::Function::New(env, MsgReceiveNoWait, "msgrcvNoWait"));
  exports.Set("MsgReceiver", MsgReceiver::Define(env));
}

}  // namespace switchyard
