// fd_passing.cc: passing one fd to another process over an AF_UNIX stream socket, and the
// checks a receiver makes on who sent it (SO_PEERCRED) and what it is (F_GET_SEALS).
//
// Wire format: one byte of data carrying one SCM_RIGHTS control message with exactly one fd.
// The byte is the caller's (shm-rendezvous.ts gives it its meaning).
//
// Invariants:
// - Nothing here blocks the JS thread. sendFd is MSG_DONTWAIT (false on EAGAIN: the caller
//   tries again later). Receiving waits on a libuv pool thread (FdReceiver, an AsyncWorker)
//   in poll() with a deadline, so a pool thread is parked at most `timeoutMs`.
// - The receiving socket must not be read by anyone else meanwhile (libuv included): a plain
//   read() of the byte makes the kernel drop the fd in flight. connectReceiveFd makes its own
//   socket for that reason and hands it to JavaScript only after the fd arrived.
// - Every fd received or created here is O_CLOEXEC (MSG_CMSG_CLOEXEC, SOCK_CLOEXEC). On
//   success JavaScript owns the socket and the fd; on failure this file closes what it made or
//   received (never a socket it was given). A message carrying other than exactly one fd, or
//   a truncated one, is reported as fd -1 after closing whatever did arrive.
// - The worker's fields are written on the pool thread in Execute() and read on the JS thread
//   in OnOK(), which libuv runs after Execute() returned: no other synchronisation is needed.
#include "fd_passing.h"
#include "errors.h"

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

namespace switchyard {
namespace {

using Clock = std::chrono::steady_clock;

// Room for a few fds, so that a sender attaching more than one is seen (and every fd closed)
// rather than truncated by the kernel.
constexpr size_t kMaxFds = 8;

// One data byte with room for `Fds` fds of control data: the message both directions use.
template <size_t Fds>
struct ByteMessage {
  unsigned char byte = 0;
  iovec iov{&byte, 1};
  msghdr msg{};
  union {  // last: cmsghdr ends in a flexible array
    cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * Fds)];
  } control;

  ByteMessage() {
    std::memset(&control, 0, sizeof(control));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
  }
  ByteMessage(const ByteMessage&) = delete;  // msg points into this object
  ByteMessage& operator=(const ByteMessage&) = delete;
};

// sendFd(socketFd, fdToSend, byte) -> true if sent, false if the socket buffer is full (EAGAIN).
Napi::Value SendFd(const Napi::CallbackInfo& info) {
  int sock = info[0].As<Napi::Number>().Int32Value();
  int fd = info[1].As<Napi::Number>().Int32Value();
  ByteMessage<1> out;
  out.byte = static_cast<unsigned char>(info[2].As<Napi::Number>().Uint32Value());
  msghdr& msg = out.msg;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  for (;;) {
    ssize_t n = ::sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == 1) return Napi::Boolean::New(info.Env(), true);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), n < 0 ? errno : EPROTO, "sendmsg");
  }
}

// Connects (optionally) and waits for one byte with its fd, on a pool thread.
class FdReceiver : public Napi::AsyncWorker {
 public:
  // Receive on `socket` (not owned), or connect to `path` first (socket == -1, owned until OnOK).
  FdReceiver(Napi::Function cb, int socket, std::string path, int timeoutMs)
      : Napi::AsyncWorker(cb, "switchyard:receiveFd"),
        socket_(socket),
        owned_(socket < 0),
        path_(std::move(path)),
        deadline_(Clock::now() + std::chrono::milliseconds(timeoutMs)) {}

  void Execute() override {
    if (owned_ && !Connect()) return Fail();
    if (!Receive()) return Fail();
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      Callback().Call({ErrnoError(env, err_, syscall_, Printable()).Value(), env.Null()});
      return;
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("socket", Napi::Number::New(env, socket_));
    out.Set("byte", Napi::Number::New(env, byte_));
    out.Set("fd", Napi::Number::New(env, fd_));
    Callback().Call({env.Null(), out});
  }

 private:
  int RemainingMs() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
  }

  std::string Printable() const {
    if (!owned_) return "";
    std::string p = path_;
    if (!p.empty() && p[0] == '\0') p[0] = '@';  // how ss(8) shows abstract names
    return p;
  }

  void Fail() {
    if (owned_ && socket_ >= 0) ::close(socket_);
    if (owned_) socket_ = -1;
  }

  bool SetFailure(int err, const char* syscall) {
    err_ = err;
    syscall_ = syscall;
    return false;
  }

  // A blocking connect bounded by SO_SNDTIMEO: for AF_UNIX, connect waits only while the
  // listener's backlog is full, and gives EAGAIN when the timeout runs out.
  bool Connect() {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.empty() || path_.size() > sizeof(addr.sun_path) - (path_[0] == '\0' ? 0 : 1)) return SetFailure(ENAMETOOLONG, "connect");
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size() + (path_[0] == '\0' ? 0 : 1));
    socket_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (socket_ < 0) return SetFailure(errno, "socket");
    for (;;) {
      int left = RemainingMs();
      if (left == 0) return SetFailure(ETIMEDOUT, "connect");
      timeval tv{left / 1000, (left % 1000) * 1000};
      if (::setsockopt(socket_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) return SetFailure(errno, "setsockopt");
      if (::connect(socket_, reinterpret_cast<sockaddr*>(&addr), len) == 0) break;
      if (errno == EINTR) continue;
      return SetFailure(errno == EAGAIN || errno == EINPROGRESS ? ETIMEDOUT : errno, "connect");
    }
    timeval none{0, 0};
    if (::setsockopt(socket_, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none)) != 0) return SetFailure(errno, "setsockopt");
    return true;
  }

  bool Receive() {
    for (;;) {
      int left = RemainingMs();
      if (left == 0) return SetFailure(ETIMEDOUT, "recvmsg");
      pollfd p{socket_, POLLIN, 0};
      int r = ::poll(&p, 1, left);
      if (r < 0 && errno != EINTR) return SetFailure(errno, "poll");
      if (r <= 0) continue;  // EINTR, or the deadline: checked at the top

      ByteMessage<kMaxFds> in;
      msghdr& msg = in.msg;
      ssize_t n = ::recvmsg(socket_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n < 0) return SetFailure(errno, "recvmsg");

      std::vector<int> fds;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
          int fd;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          fds.push_back(fd);
        }
      }
      bool usable = n == 1 && fds.size() == 1 && (msg.msg_flags & MSG_CTRUNC) == 0;
      if (!usable) {
        for (int fd : fds) ::close(fd);
        fds.clear();
      }
      if (n == 0) return SetFailure(ECONNRESET, "recvmsg");  // EOF: the sender closed first
      byte_ = in.byte;
      fd_ = usable ? fds[0] : -1;
      return true;
    }
  }

  int socket_;
  bool owned_;
  std::string path_;
  Clock::time_point deadline_;
  int err_ = 0;
  const char* syscall_ = "";
  int byte_ = -1;
  int fd_ = -1;
};

// receiveFd(socketFd, timeoutMs, cb(err, {socket, byte, fd}))
Napi::Value ReceiveFd(const Napi::CallbackInfo& info) {
  int sock = info[0].As<Napi::Number>().Int32Value();
  int timeoutMs = info[1].As<Napi::Number>().Int32Value();
  (new FdReceiver(info[2].As<Napi::Function>(), sock, "", timeoutMs))->Queue();
  return info.Env().Undefined();
}

// connectReceiveFd(path, timeoutMs, cb(err, {socket, byte, fd})). A path starting with "\0"
// is an abstract socket name.
Napi::Value ConnectReceiveFd(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int timeoutMs = info[1].As<Napi::Number>().Int32Value();
  (new FdReceiver(info[2].As<Napi::Function>(), -1, std::move(path), timeoutMs))->Queue();
  return info.Env().Undefined();
}

// peerCred(socketFd) -> {pid, uid, gid} of the process that connected (or listened on) the
// other end, as the kernel recorded it then; ids are translated into our namespaces.
Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  int sock = info[0].As<Napi::Number>().Int32Value();
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) ThrowErrno(info.Env(), errno, "getsockopt(SO_PEERCRED)");
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

// fdSeals(fd) -> the F_SEAL_* bits of fd; 0 for a file that cannot carry seals.
Napi::Value FdSeals(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0 && errno == EINVAL) seals = 0;
  if (seals < 0) ThrowErrno(info.Env(), errno, "fcntl(F_GET_SEALS)");
  return Napi::Number::New(info.Env(), seals);
}

}  // namespace

void InitFdPassing(Napi::Env env, Napi::Object exports) {
  exports.Set("sendFd", Napi::Function::New(env, SendFd, "sendFd"));
  exports.Set("receiveFd", Napi::Function::New(env, ReceiveFd, "receiveFd"));
  exports.Set("connectReceiveFd", Napi::Function::New(env, ConnectReceiveFd, "connectReceiveFd"));
  exports.Set("peerCred", Napi::Function::New(env, PeerCred, "peerCred"));
  exports.Set("fdSeals", Napi::Function::New(env, FdSeals, "fdSeals"));
  Napi::Object seals = Napi::Object::New(env);
  seals.Set("seal", Napi::Number::New(env, F_SEAL_SEAL));
  seals.Set("shrink", Napi::Number::New(env, F_SEAL_SHRINK));
  seals.Set("grow", Napi::Number::New(env, F_SEAL_GROW));
  seals.Set("write", Napi::Number::New(env, F_SEAL_WRITE));
  exports.Set("sealFlags", seals);
}

}  // namespace switchyard
