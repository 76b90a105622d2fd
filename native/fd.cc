// fd.cc: file-descriptor helpers that Node's own API does not offer.
//
// Owns nothing after it returns: every fd it creates is handed to JavaScript, which owns
// its lifetime (wraps it in a net.Socket or closes it). Every fd is created O_CLOEXEC, so a
// child spawned concurrently by anyone else in this process cannot inherit it by accident
// (an inherited write end would keep a pipe from ever reaching EOF: perlipc "Avoiding Pipe
// Deadlocks"); child_process.spawn's dup2 into the child's stdio slots clears the flag on
// exactly the fds we mean to pass. Arguments are validated in TypeScript (src/native.ts
// callers); here they are positional and trusted.
#include "fd.h"
#include "errors.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

namespace switchyard {
namespace {

Napi::Value PairToArray(Napi::Env env, const int fds[2]) {
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fds[0]));
  out.Set(1u, Napi::Number::New(env, fds[1]));
  return out;
}

// pipe() -> [readFd, writeFd]
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) ThrowErrno(info.Env(), errno, "pipe2");
  return PairToArray(info.Env(), fds);
}

// socketpair() -> [fdA, fdB], AF_UNIX SOCK_STREAM
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) ThrowErrno(info.Env(), errno, "socketpair");
  return PairToArray(info.Env(), fds);
}

// mkfifo(path, mode): mode is applied exactly (fchmod after creation), so the process
// umask cannot widen or narrow what the caller asked for. The chmod goes through an fd opened
// with O_NOFOLLOW and checked to be a FIFO, so a name swapped for a symlink in between is
// never followed. Opening a FIFO O_RDONLY|O_NONBLOCK returns at once.
Napi::Value MkFifo(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  mode_t mode = static_cast<mode_t>(info[1].As<Napi::Number>().Uint32Value());
  if (::mkfifo(path.c_str(), mode) != 0) ThrowErrno(info.Env(), errno, "mkfifo", path);
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), errno, "open", path);
  struct stat st;
  int err = 0;
  if (::fstat(fd, &st) != 0) err = errno;
  else if (!S_ISFIFO(st.st_mode)) err = EEXIST;  // not the FIFO we just made
  else if (::fchmod(fd, mode) != 0) err = errno;
  ::close(fd);
  if (err != 0) ThrowErrno(info.Env(), err, "fchmod", path);
  return info.Env().Undefined();
}

Napi::Value SetFdFlag(const Napi::CallbackInfo& info, int getCmd, int setCmd, int flag, const char* name) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  bool on = info[1].As<Napi::Boolean>().Value();
  int flags = ::fcntl(fd, getCmd);
  if (flags < 0) ThrowErrno(info.Env(), errno, name);
  int next = on ? (flags | flag) : (flags & ~flag);
  if (next != flags && ::fcntl(fd, setCmd, next) != 0) ThrowErrno(info.Env(), errno, name);
  return info.Env().Undefined();
}

// setCloexec(fd, on)
Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  return SetFdFlag(info, F_GETFD, F_SETFD, FD_CLOEXEC, "fcntl");
}

// setNonblock(fd, on)
Napi::Value SetNonblock(const Napi::CallbackInfo& info) {
  return SetFdFlag(info, F_GETFL, F_SETFL, O_NONBLOCK, "fcntl");
}

// lockExclusive(fd) -> true if this open file now holds flock(LOCK_EX), false if another
// open file holds a lock on it (EWOULDBLOCK). Never waits. The lock belongs to the open file
// description: it goes when the last fd to it is closed, or when the process dies.
Napi::Value LockExclusive(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return Napi::Boolean::New(info.Env(), true);
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), errno, "flock");
  }
}

// listenUnix(path, backlog) -> a listening AF_UNIX stream socket (non-blocking, CLOEXEC).
// A path starting with "\0" is an abstract name, bound with exactly its own length: libuv
// (Node 20) pads abstract names with NULs to the whole sun_path, which makes the name depend
// on the Node version and unreachable for a client that connects with the exact length.
Napi::Value ListenUnix(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int backlog = info[1].As<Napi::Number>().Int32Value();
  std::string shown = path;
  if (!shown.empty() && shown[0] == '\0') shown[0] = '@';
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  bool abstract = !path.empty() && path[0] == '\0';
  if (path.empty() || path.size() > sizeof(addr.sun_path) - (abstract ? 0 : 1)) ThrowErrno(info.Env(), ENAMETOOLONG, "bind", shown);
  std::memcpy(addr.sun_path, path.data(), path.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) ThrowErrno(info.Env(), errno, "socket", shown);
  const char* step = nullptr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) step = "bind";
  else if (::listen(fd, backlog) != 0) step = "listen";
  if (step != nullptr) {
    int err = errno;
    ::close(fd);
    ThrowErrno(info.Env(), err, step, shown);
  }
  return Napi::Number::New(info.Env(), fd);
}

}  // namespace

void InitFd(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("socketpair", Napi::Function::New(env, SocketPair, "socketpair"));
  exports.Set("mkfifo", Napi::Function::New(env, MkFifo, "mkfifo"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
  exports.Set("setNonblock", Napi::Function::New(env, SetNonblock, "setNonblock"));
  exports.Set("listenUnix", Napi::Function::New(env, ListenUnix, "listenUnix"));
  exports.Set("lockExclusive", Napi::Function::New(env, LockExclusive, "lockExclusive"));
}

}  // namespace switchyard
