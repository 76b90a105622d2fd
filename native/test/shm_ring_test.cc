// shm_ring_test.cc: runs shm::Endpoint (native/shm_ring.cc) between two real processes under
// AddressSanitizer/UBSan (native/test/run.sh, `npm run test:native`), without Node.
//
// The parent produces records of pseudo-random sizes (each [u32 len][u32 flags][payload],
// padding at the wrap, exactly as src/transports/shm/link.ts writes them) into a small ring;
// the child consumes and checks them, and answers with a count on the other ring. Both sides
// sleep through the waiter thread only (WantSpace / Release with arm), so the doorbell
// protocol is exercised thousands of times; a lost wake-up hangs, and the alarm fails the run.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "../shm_ring.h"

using namespace switchyard::shm;

namespace {

constexpr uint64_t kCapacity = 64 * 1024;
constexpr uint32_t kRecords = 400000;

struct Events {
  std::mutex m;
  std::condition_variable cv;
  uint32_t bits = 0;
  void Post(uint32_t ev) {
    std::lock_guard<std::mutex> g(m);
    bits |= ev;
    cv.notify_one();
  }
  void Wait(uint32_t ev) {
    std::unique_lock<std::mutex> g(m);
    cv.wait(g, [&] { return (bits & ev) != 0; });
    bits &= ~ev;
  }
};

uint32_t Next(uint32_t& s) {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

inline uint32_t Align8(uint32_t n) { return (n + 7) & ~7u; }

int Fail(const char* what) {
  std::fprintf(stderr, "shm_ring_test: %s\n", what);
  return 1;
}

// Writes records [0, kRecords) into the send ring, sleeping on kEventSpace when full.
int Produce(Endpoint& ep, Events& ev) {
  uint8_t* ring = ep.base() + ep.sendOffset();
  uint64_t pos = 0, consumer = 0;
  uint32_t seed = 12345;
  for (uint32_t i = 0; i < kRecords; i++) {
    uint32_t len = Next(seed) % (i % 97 == 0 ? 20000 : 300);
    uint32_t need = kRecordHeader + Align8(len);
    for (;;) {
      uint64_t off = pos % kCapacity;
      uint64_t pad = need > kCapacity - off ? kCapacity - off : 0;
      if (pos + pad + need - consumer <= kCapacity) {
        if (pad) {
          uint32_t h[2] = {static_cast<uint32_t>(pad - kRecordHeader), kFlagPadding};
          std::memcpy(ring + off, h, 8);
          pos += pad;
          off = 0;
        }
        uint32_t h[2] = {len, kFlagData};
        std::memcpy(ring + off, h, 8);
        for (uint32_t b = 0; b < len; b++) ring[off + 8 + b] = static_cast<uint8_t>(i + b);
        pos += need;
        if (i % 64 == 63) consumer = ep.Publish(pos);
        break;
      }
      consumer = ep.Publish(pos);
      if (pos + pad + need - consumer <= kCapacity) continue;
      ep.WantSpace(consumer);
      ev.Wait(kEventSpace);
      consumer = ep.Publish(pos);
    }
  }
  ep.Publish(pos);
  return 0;
}

// Reads kRecords records, checking each, sleeping on kEventData when the ring is empty.
int Consume(Endpoint& ep, Events& ev) {
  const uint8_t* ring = ep.base() + ep.receiveOffset();
  uint64_t pos = 0;
  uint32_t seed = 12345;
  uint32_t i = 0;
  uint64_t available = ep.Release(0, true);
  while (i < kRecords) {
    if (available == pos) {
      ev.Wait(kEventData);
      available = ep.Available();
      continue;
    }
    while (pos < available) {
      uint64_t off = pos % kCapacity;
      uint32_t h[2];
      std::memcpy(h, ring + off, 8);
      uint32_t need = kRecordHeader + Align8(h[0]);
      if (need > kCapacity - off) return Fail("record runs past the ring");
      pos += need;
      if (h[1] == kFlagPadding) continue;
      uint32_t len = Next(seed) % (i % 97 == 0 ? 20000 : 300);
      if (h[1] != kFlagData || h[0] != len) return Fail("wrong record length or flags");
      for (uint32_t b = 0; b < len; b++) {
        if (ring[off + 8 + b] != static_cast<uint8_t>(i + b)) return Fail("wrong payload byte");
      }
      i++;
    }
    available = ep.Release(pos, true);
  }
  return 0;
}

}  // namespace

int main() {
  alarm(60);  // a lost wake-up is a hang: fail instead
  int fd = memfd_create("shm_ring_test", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(SegmentBytes(kCapacity))) != 0) return Fail("memfd");

  {
    // A segment nobody initialised is refused, not trusted.
    int junk = memfd_create("junk", MFD_CLOEXEC);
    if (ftruncate(junk, static_cast<off_t>(SegmentBytes(kCapacity))) != 0) return Fail("ftruncate");
    Endpoint bad;
    if (bad.Map(junk, 1, kCapacity) != EPROTO) return Fail("an uninitialised segment was accepted");
    close(junk);
  }

  Endpoint creator;
  if (creator.Map(fd, 0, kCapacity) != 0) return Fail("map side 0");
  pid_t pid = fork();
  if (pid < 0) return Fail("fork");
  if (pid == 0) {
    Endpoint ep;
    if (ep.Map(fd, 1, kCapacity) != 0) _exit(Fail("map side 1"));
    Events ev;
    ep.Start(2000, [&ev](uint32_t e) { ev.Post(e); });
    int rc = Consume(ep, ev);
    ep.Close();
    _exit(rc);
  }
  Events ev;
  creator.Start(2000, [&ev](uint32_t e) { ev.Post(e); });
  int rc = Produce(creator, ev);
  int status = 0;
  waitpid(pid, &status, 0);
  creator.Close();
  creator.Close();  // idempotent
  close(fd);
  if (rc != 0) return rc;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return Fail("the consumer failed");
  std::printf("shm_ring_test: %u records through a %llu-byte ring between two processes: ok\n", kRecords,
              static_cast<unsigned long long>(kCapacity));
  return 0;
}
