// shm_ring_test.cc: the shipping ring code (native/shm_ring.cc: Claim, Commit, Read, the
// positions and the waiter thread) under AddressSanitizer/UBSan (native/test/run.sh, `npm run
// test:native`), without Node. There is no copy of the record format here: every record is
// written with Claim/Commit and read with Read, as the addon does.
//
// 1. In one process, both sides of one segment: wrap and padding, a full ring, the claim and
//    commit errors, and a hostile peer (positions and record headers that cannot be right),
//    each of which must come back as a code, never as a read outside the ring.
// 2. Between two real processes: the parent claims regions of pseudo-random sizes, fills some
//    of each, commits it (now and then as a fragment piece), sleeping through the waiter
//    thread when full (WantSpace); the child reads and checks every byte, sleeping through the
//    waiter when empty (Release with arm). A lost wake-up hangs, and the alarm fails the run.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
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

int failures = 0;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "shm_ring_test: FAILED: %s\n", what);
    failures++;
  }
}

int Fail(const char* what) {
  std::fprintf(stderr, "shm_ring_test: %s\n", what);
  return 1;
}

// The control line offsets (docs/PROTOCOL.md §8), as a hostile peer would poke them.
std::atomic<uint64_t>& ProducerPosition(Endpoint& ep, int ring) {
  return reinterpret_cast<Segment*>(ep.base())->ring[ring].producer.position;
}
std::atomic<uint64_t>& ConsumerPosition(Endpoint& ep, int ring) {
  return reinterpret_cast<Segment*>(ep.base())->ring[ring].consumer.position;
}

void Fill(uint8_t* at, uint32_t n, uint32_t tag) {
  for (uint32_t b = 0; b < n; b++) at[b] = static_cast<uint8_t>(tag + b);
}
bool Matches(const uint8_t* at, uint32_t n, uint32_t tag) {
  for (uint32_t b = 0; b < n; b++) {
    if (at[b] != static_cast<uint8_t>(tag + b)) return false;
  }
  return true;
}

// A fresh segment mapped twice in this process: a is side 0 (produces ring 0), b is side 1.
struct LocalPair {
  int fd = -1;
  Endpoint a, b;
  bool ok = false;
  LocalPair() {
    fd = memfd_create("shm_ring_test_local", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(SegmentBytes(kCapacity))) != 0) return;
    ok = a.Map(fd, 0, kCapacity) == 0 && b.Map(fd, 1, kCapacity) == 0;
  }
  ~LocalPair() {
    a.Close();
    b.Close();
    if (fd >= 0) close(fd);
  }
};

void TestClaimCommitRead() {
  LocalPair p;
  Check(p.ok, "local pair maps");
  if (!p.ok) return;
  uint32_t room = 0;
  RecordView r{};
  Check(p.b.Read(&r) == kReadEmpty, "an empty ring reads as empty");
  Check(p.a.Commit(8, kFlagData) == kCommitNoClaim, "commit without a claim is refused");

  int64_t at = p.a.Claim(100, 1000, &room);
  Check(at == static_cast<int64_t>(p.a.sendOffset() + kRecordHeader), "the first claim starts after the first header");
  Check(room == 1000, "room is capped at maxBytes");
  Check(p.a.Claim(8, 8, &room) == kClaimOpen, "a second claim while one is open is refused");
  Check(p.a.Commit(1001, kFlagData) == kCommitBadLength, "commit past the claimed room is refused");
  Check(p.a.Commit(10, kFlagPadding) == kCommitBadFlags, "commit as padding is refused");
  Check(p.b.Read(&r) == kReadEmpty, "nothing is visible before commit");
  Fill(p.a.base() + at, 123, 7);
  Check(p.a.Commit(123, kFlagData) == kCommitOk, "commit within the room");
  Check(p.b.Read(&r) == kReadRecord, "the committed record is read");
  Check(r.length == 123 && r.flags == kFlagData && r.end == kRecordHeader + 128, "length, flags and end of the record");
  Check(r.offset == p.b.receiveOffset() + kRecordHeader && Matches(p.b.base() + r.offset, 123, 7), "payload where it was written");
  Check(p.b.Read(&r) == kReadEmpty, "one record, read once");

  // Commit(0): no record at all.
  at = p.a.Claim(0, 64, &room);
  Check(at > 0 && p.a.Commit(0, kFlagData) == kCommitOk, "claim then commit(0)");
  Check(p.b.Read(&r) == kReadEmpty && p.b.readPosition() == r.end, "commit(0) publishes nothing");

  Check(p.a.Claim(static_cast<uint32_t>(kCapacity), static_cast<uint32_t>(kCapacity), &room) == kClaimTooLarge,
        "a record that can never fit is refused");
}

void TestWrapAndFull() {
  LocalPair p;
  if (!p.ok) return;
  uint32_t room = 0;
  RecordView r{};
  // Fill the ring to 1 KiB before its end: seven records of 8 KiB, one of 7 KiB.
  uint64_t written = 0;
  uint32_t tag = 0;
  for (int i = 0; i < 8; i++) {
    uint32_t bytes = i < 7 ? 8192 : 7168;
    int64_t at = p.a.Claim(bytes - kRecordHeader, bytes - kRecordHeader, &room);
    Check(at > 0 && room == bytes - kRecordHeader, "room for a record before the wrap");
    Fill(p.a.base() + at, room, tag++);
    p.a.Commit(room, kFlagData);
    written += bytes;
  }
  uint64_t left = kCapacity - written;
  // Claim more room than the ring has free: full, at once.
  // 1 KiB of payload needs 1 KiB + 8 with its header: padding to the wrap, then no free space.
  Check(p.a.Claim(static_cast<uint32_t>(left), static_cast<uint32_t>(left), &room) == kClaimFull, "a claim larger than the free space is full");
  // Consume everything: the ring is now free, but the next 2000 bytes do not fit before the end.
  uint32_t seen = 0;
  while (p.b.Read(&r) == kReadRecord) {
    Check(Matches(p.b.base() + r.offset, r.length, seen++), "payload before the wrap");
  }
  Check(seen == tag, "every record before the wrap");
  p.b.Release(p.b.readPosition(), false);
  int64_t at = p.a.Claim(2000, 2000, &room);
  Check(at == static_cast<int64_t>(p.a.sendOffset() + kRecordHeader), "past the wrap, the claim starts at offset 0");
  Fill(p.a.base() + at, 2000, 99);
  p.a.Commit(2000, kFlagPiece);
  Check(p.b.Read(&r) == kReadRecord && r.flags == kFlagPiece && r.length == 2000, "the padding is skipped, the piece read");
  Check(r.offset == p.b.receiveOffset() + kRecordHeader && Matches(p.b.base() + r.offset, 2000, 99), "the piece's payload after the wrap");
  Check(r.end == written + left + kRecordHeader + 2000, "positions count the padding");

  // Full: the consumer has not released the piece's record; a claim for the whole rest of the
  // ring plus one byte is full, and fits once the consumer releases.
  uint32_t all = static_cast<uint32_t>(kCapacity - (kRecordHeader + 2000) - kRecordHeader);
  Check(p.a.Claim(all + 8, all + 8, &room) == kClaimFull, "full until the consumer releases");
  p.b.Release(r.end, false);
  at = p.a.Claim(all, all, &room);
  Check(at > 0 && room == all, "room up to the wrap once released");
  p.a.Commit(0, kFlagData);
}

void TestHostileProducer() {
  RecordView r{};
  {
    LocalPair p;  // a producer position past what the ring holds
    ProducerPosition(p.a, 0).store(kCapacity * 10, std::memory_order_release);
    Check(p.b.Read(&r) == kReadBadPosition, "producer position too far ahead");
  }
  {
    LocalPair p;  // unaligned
    ProducerPosition(p.a, 0).store(12, std::memory_order_release);
    Check(p.b.Read(&r) == kReadBadPosition, "unaligned producer position");
  }
  {
    LocalPair p;  // behind the consumer: read one record, then the producer goes back
    uint32_t room;
    p.a.Claim(8, 8, &room);
    p.a.Commit(8, kFlagData);
    Check(p.b.Read(&r) == kReadRecord, "a real record first");
    ProducerPosition(p.a, 0).store(0, std::memory_order_release);
    Check(p.b.Read(&r) == kReadBadPosition, "producer position behind the consumer");
  }
  uint8_t* ring;
  auto header = [&](uint64_t off, uint32_t length, uint32_t flags) {
    std::memcpy(ring + off, &length, 4);
    std::memcpy(ring + off + 4, &flags, 4);
  };
  {
    LocalPair p;
    ring = p.a.base() + p.a.sendOffset();
    header(0, 0xfffffff8u, kFlagData);  // aligns to 0 in 32 bits: must not loop
    ProducerPosition(p.a, 0).store(64, std::memory_order_release);
    Check(p.b.Read(&r) == kReadBadLength, "a length near 2^32");
  }
  {
    LocalPair p;
    ring = p.a.base() + p.a.sendOffset();
    header(0, static_cast<uint32_t>(kCapacity), kFlagData);
    ProducerPosition(p.a, 0).store(kCapacity, std::memory_order_release);
    Check(p.b.Read(&r) == kReadBadLength, "a record longer than the ring");
  }
  {
    LocalPair p;
    ring = p.a.base() + p.a.sendOffset();
    header(0, 100, kFlagData);
    ProducerPosition(p.a, 0).store(64, std::memory_order_release);
    Check(p.b.Read(&r) == kReadPastProducer, "a record past the producer position");
  }
  {
    LocalPair p;
    ring = p.a.base() + p.a.sendOffset();
    header(0, 56, kFlagPadding);
    ProducerPosition(p.a, 0).store(64, std::memory_order_release);
    Check(p.b.Read(&r) == kReadBadPadding, "padding that does not end at the wrap");
  }
  {
    LocalPair p;
    ring = p.a.base() + p.a.sendOffset();
    header(0, 8, 7);
    ProducerPosition(p.a, 0).store(16, std::memory_order_release);
    Check(p.b.Read(&r) == kReadBadFlags, "unknown flags");
  }
}

void TestHostileConsumer() {
  LocalPair p;
  uint32_t room;
  int64_t at = p.a.Claim(64, 64, &room);
  p.a.Commit(64, kFlagData);
  (void)at;
  // The consumer claims to be past what was ever produced.
  ConsumerPosition(p.b, 0).store(1 << 20, std::memory_order_release);
  Check(p.a.Claim(kCapacity - 64, kCapacity - 64, &room) == kClaimCorrupt, "a consumer ahead of the producer");
  ConsumerPosition(p.b, 0).store(4, std::memory_order_release);
  Check(p.a.Claim(kCapacity - 64, kCapacity - 64, &room) == kClaimCorrupt, "an unaligned consumer");
}

// Writes kRecords records of random sizes into the send ring, sleeping on kEventSpace when full.
int Produce(Endpoint& ep, Events& ev) {
  uint32_t seed = 12345;
  for (uint32_t i = 0; i < kRecords; i++) {
    uint32_t len = 1 + Next(seed) % (i % 97 == 0 ? 20000 : 300);  // Commit(0) is no record
    uint32_t maxBytes = len + Next(seed) % 4096;
    uint32_t flags = i % 13 == 0 ? kFlagPiece : kFlagData;
    uint32_t room = 0;
    int64_t at;
    while ((at = ep.Claim(len, maxBytes, &room)) == kClaimFull) {
      ep.WantSpace();
      ev.Wait(kEventSpace);
    }
    if (at < 0) return Fail("claim failed");
    if (room < len || room > (maxBytes > len ? maxBytes : len)) return Fail("claim room out of range");
    // Writing the whole room must stay inside the mapping (ASan watches): only `len` counts.
    std::memset(ep.base() + at, 0xee, room);
    Fill(ep.base() + at, len, i);
    if (ep.Commit(len, flags) != kCommitOk) return Fail("commit failed");
  }
  return 0;
}

// Reads kRecords records, checking each, sleeping on kEventData when the ring is empty.
int Consume(Endpoint& ep, Events& ev) {
  uint32_t seed = 12345;
  uint32_t i = 0;
  uint64_t released = 0;
  ep.Release(0, true);
  while (i < kRecords) {
    RecordView r;
    int got = ep.Read(&r);
    if (got == kReadEmpty) {
      ep.Release(ep.readPosition(), true);
      released = ep.readPosition();
      ev.Wait(kEventData);
      continue;
    }
    if (got != kReadRecord) return Fail("the ring read as corrupt");
    uint32_t len = 1 + Next(seed) % (i % 97 == 0 ? 20000 : 300);  // Commit(0) is no record
    Next(seed);
    uint32_t flags = i % 13 == 0 ? kFlagPiece : kFlagData;
    if (r.length != len || r.flags != flags) return Fail("wrong record length or flags");
    if (!Matches(ep.base() + r.offset, len, i)) return Fail("wrong payload byte");
    i++;
    if (r.end - released >= kCapacity / 8) {
      ep.Release(r.end, false);
      released = r.end;
    }
  }
  ep.Release(ep.readPosition(), false);
  return 0;
}

}  // namespace

int main() {
  alarm(60);  // a lost wake-up is a hang: fail instead
  TestClaimCommitRead();
  TestWrapAndFull();
  TestHostileProducer();
  TestHostileConsumer();
  if (failures != 0) return Fail("in-process checks failed");

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
  std::printf("shm_ring_test: in-process checks ok; %u records claimed, committed and read through a %llu-byte ring between two processes: ok\n",
              kRecords, static_cast<unsigned long long>(kCapacity));
  return 0;
}
