// shm_ring.cc: Endpoint, one process's side of an shm segment (see shm_ring.h for the layout
// and the memory-ordering rules). Owns the mapping and the waiter thread; never the fd.
#include "shm_ring.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

namespace switchyard {
namespace shm {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// The doorbell is a raw futex word in shared memory, not a sem_t: glibc aborts the process
// ("The futex facility returned an unexpected error code") when a sem_t it waits on holds
// garbage, and the peer can write anything there. With a bare word, whatever the peer writes
// costs at most a spurious or a missed wake-up, and every wait is bounded (Run()).
//
// Post: store 1 (release), then FUTEX_WAKE one waiter. Not FUTEX_PRIVATE: two processes.
inline void PostBell(Doorbell& bell) {
  bell.word.store(1, std::memory_order_release);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&bell.word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

// Wait: take a post made since the last look (exchange to 0); if there was none, sleep while
// the word is still 0, for at most `ns`. Every error (EAGAIN: it changed; EINTR; ETIMEDOUT;
// EINVAL or EFAULT from a word a peer broke) just returns: the caller looks at the state again.
inline void WaitBell(Doorbell& bell, long ns) {
  if (bell.word.exchange(0, std::memory_order_acq_rel) != 0) return;
  timespec rel{ns / 1000000000L, ns % 1000000000L};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&bell.word), FUTEX_WAIT, 0, &rel, nullptr, 0);
  bell.word.store(0, std::memory_order_relaxed);
}

// Posts the doorbell if `flag` was set by its sleeper (exchange, so one post per sleep).
inline void WakeIf(std::atomic<uint32_t>& flag, Doorbell& bell) {
  if (flag.load(std::memory_order_relaxed) != 0 && flag.exchange(0, std::memory_order_acq_rel) != 0) PostBell(bell);
}

}  // namespace

Endpoint::~Endpoint() { Close(); }

int Endpoint::Map(int fd, int side, uint64_t capacity) {
  side_ = side;
  size_t bytes = SegmentBytes(capacity);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return errno;
  base_ = static_cast<uint8_t*>(p);
  bytes_ = bytes;
  seg_ = reinterpret_cast<Segment*>(base_);
  capacity_ = capacity;
  if (side == 0) {
    // A fresh, zero-filled segment that nobody else has yet: plain stores, then the magic
    // last with release so an attacher that sees it sees the rest.
    seg_->header.version = kVersion;
    seg_->header.headerBytes = kHeaderBytes;
    seg_->header.capacity = capacity;
    seg_->header.pid[0] = getpid();
    // The doorbells' words start at 0 (the segment is zero-filled): nothing to initialise.
    reinterpret_cast<std::atomic<uint64_t>*>(&seg_->header.magic)->store(kMagic, std::memory_order_release);
  } else {
    uint64_t magic = reinterpret_cast<std::atomic<uint64_t>*>(&seg_->header.magic)->load(std::memory_order_acquire);
    if (magic != kMagic || seg_->header.version != kVersion || seg_->header.headerBytes != kHeaderBytes ||
        seg_->header.capacity != capacity) {
      Close();
      return EPROTO;
    }
    seg_->header.pid[1] = getpid();
  }
  return 0;
}

int Endpoint::Start(uint64_t spinNs, Notify notify) {
  notify_ = std::move(notify);
  // std::thread throws where the OS refuses a thread (RLIMIT_NPROC, memory): an error for
  // this link, never std::terminate for the process.
  try {
    waiter_ = std::thread([this, spinNs] { Run(spinNs); });
  } catch (const std::system_error& e) {
    return e.code().value() != 0 ? e.code().value() : EAGAIN;
  }
  return 0;
}

// The record header is read and written through these only: 4-byte atomics (relaxed) so a
// peer writing the same bytes at the same time is a value we check, never a torn read or a
// data race in the sanitizer's eyes.
inline void StoreHeader(uint8_t* at, uint32_t length, uint32_t flags) {
  __atomic_store_n(reinterpret_cast<uint32_t*>(at), length, __ATOMIC_RELAXED);
  __atomic_store_n(reinterpret_cast<uint32_t*>(at + 4), flags, __ATOMIC_RELAXED);
}

inline void LoadHeader(const uint8_t* at, uint32_t* length, uint32_t* flags) {
  *length = __atomic_load_n(reinterpret_cast<const uint32_t*>(at), __ATOMIC_RELAXED);
  *flags = __atomic_load_n(reinterpret_cast<const uint32_t*>(at + 4), __ATOMIC_RELAXED);
}

int64_t Endpoint::Claim(uint32_t minBytes, uint32_t maxBytes, uint32_t* room) {
  if (claimOpen_) return kClaimOpen;
  const uint64_t cap = capacity_;
  const uint64_t need = kRecordHeader + Align8(minBytes);
  if (need > cap) return kClaimTooLarge;
  uint64_t off = txTail_ % cap;
  uint64_t toEnd = cap - off;
  const uint64_t pad = need > toEnd ? toEnd : 0;
  if (txTail_ + pad + need - txConsumerCache_ > cap) {
    RingControl& tx = seg_->ring[side_];
    uint64_t consumer = tx.consumer.position.load(std::memory_order_acquire);
    // Written by the peer: it must lie in [tail - capacity, tail] and on a record boundary.
    if (consumer > txTail_ || txTail_ - consumer > cap || consumer % 8 != 0) return kClaimCorrupt;
    txConsumerCache_ = consumer;
    if (txTail_ + pad + need - consumer > cap) return kClaimFull;
  }
  uint8_t* ring = base_ + sendOffset();
  if (pad != 0) {
    StoreHeader(ring + off, static_cast<uint32_t>(pad - kRecordHeader), kFlagPadding);
    txTail_ += pad;
    off = 0;
    toEnd = cap;
  }
  const uint64_t freeBytes = cap - (txTail_ - txConsumerCache_);
  uint64_t avail = (toEnd < freeBytes ? toEnd : freeBytes) - kRecordHeader;
  const uint64_t want = maxBytes > minBytes ? maxBytes : minBytes;
  if (avail > want) avail = want;
  claimOpen_ = true;
  claimOffset_ = off;
  claimRoom_ = static_cast<uint32_t>(avail);
  *room = claimRoom_;
  return static_cast<int64_t>(sendOffset() + off + kRecordHeader);
}

int Endpoint::Commit(uint32_t length, uint32_t flags) {
  if (!claimOpen_) return kCommitNoClaim;
  if (length > claimRoom_) return kCommitBadLength;
  if (flags != kFlagData && flags != kFlagPiece) return kCommitBadFlags;
  claimOpen_ = false;
  if (length != 0) {
    StoreHeader(base_ + sendOffset() + claimOffset_, length, flags);
    txTail_ += kRecordHeader + Align8(length);
  }
  // Also publishes a padding record Claim() wrote, when nothing followed it.
  Publish();
  return kCommitOk;
}

void Endpoint::Publish() {
  RingControl& tx = seg_->ring[side_];
  std::atomic_thread_fence(std::memory_order_release);  // payload and header before the position
  tx.producer.position.store(txTail_, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // store position, then read `sleeping`
  WakeIf(tx.consumer.sleeping, seg_->doorbell[1 - side_]);
}

void Endpoint::WantSpace() {
  txSeen_.store(txConsumerCache_, std::memory_order_relaxed);
  txWaiting_.store(true, std::memory_order_release);
  Kick();
}

int Endpoint::Read(RecordView* out) {
  const uint64_t cap = capacity_;
  const uint64_t producer = seg_->ring[1 - side_].producer.position.load(std::memory_order_acquire);
  // Unsigned: a producer behind us wraps to a huge distance and fails this too.
  if (producer - rxHead_ > cap || producer % 8 != 0) return kReadBadPosition;
  const uint8_t* ring = base_ + receiveOffset();
  // Bounded: every turn moves rxHead_ forward, and never past `producer`.
  while (rxHead_ != producer) {
    const uint64_t off = rxHead_ % cap;
    uint32_t length, flags;
    LoadHeader(ring + off, &length, &flags);
    // Bounded before any arithmetic that could wrap (cap - off >= 8: positions are aligned).
    if (length > cap - off - kRecordHeader) return kReadBadLength;
    const uint64_t need = kRecordHeader + Align8(length);
    if (need > producer - rxHead_) return kReadPastProducer;
    if (flags == kFlagPadding) {
      if (off + need != cap) return kReadBadPadding;
      rxHead_ += need;
      continue;
    }
    if (flags != kFlagData && flags != kFlagPiece) return kReadBadFlags;
    rxHead_ += need;
    out->offset = receiveOffset() + off + kRecordHeader;
    out->length = length;
    out->flags = flags;
    out->end = rxHead_;
    return kReadRecord;
  }
  return kReadEmpty;
}

uint64_t Endpoint::Release(uint64_t position, bool arm) {
  RingControl& rx = seg_->ring[1 - side_];
  rx.consumer.position.store(position, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // store position, then read `waiting`
  WakeIf(rx.producer.waiting, seg_->doorbell[1 - side_]);
  if (arm) {
    rxSeen_.store(position, std::memory_order_relaxed);
    rxArmed_.store(true, std::memory_order_release);
    Kick();
  }
  return rx.producer.position.load(std::memory_order_acquire);
}

uint64_t Endpoint::Available() const {
  return seg_->ring[1 - side_].producer.position.load(std::memory_order_acquire);
}

// Wakes our own waiter if it sleeps.
void Endpoint::Kick() { PostBell(seg_->doorbell[side_]); }

uint32_t Endpoint::Check() {
  uint32_t ev = 0;
  if (rxArmed_.load(std::memory_order_acquire) &&
      seg_->ring[1 - side_].producer.position.load(std::memory_order_acquire) != rxSeen_.load(std::memory_order_relaxed)) {
    ev |= kEventData;
  }
  if (txWaiting_.load(std::memory_order_acquire) &&
      seg_->ring[side_].consumer.position.load(std::memory_order_acquire) != txSeen_.load(std::memory_order_relaxed)) {
    ev |= kEventSpace;
  }
  return ev;
}

void Endpoint::Run(uint64_t spinNs) {
  using Clock = std::chrono::steady_clock;
  RingControl& rx = seg_->ring[1 - side_];
  RingControl& tx = seg_->ring[side_];
  Doorbell& bell = seg_->doorbell[side_];
  while (!stop_.load(std::memory_order_acquire)) {
    uint32_t ev = Check();
    // Spin only while waiting for something: with nothing armed (JS is busy with the last
    // batch) the waiter sleeps at once and leaves the core to the threads doing work.
    bool armed = rxArmed_.load(std::memory_order_acquire) || txWaiting_.load(std::memory_order_acquire);
    if (ev == 0 && spinNs > 0 && armed) {
      auto until = Clock::now() + std::chrono::nanoseconds(spinNs);
      // Poll politely: after a short burst of pause instructions, yield the core on every
      // check, so on a small machine the spinning waiter never starves a thread with work
      // (the peer's, or our own JS thread) while it waits.
      for (int i = 0; ev == 0 && !stop_.load(std::memory_order_relaxed); i++) {
        if (i < 64) CpuRelax();
        else sched_yield();
        ev = Check();
        if ((i & 7) == 7 && Clock::now() >= until) break;
      }
    }
    if (ev == 0) {
      // Announce, then look again: the peer either sees the flag and posts, or we see its move.
      if (rxArmed_.load(std::memory_order_acquire)) rx.consumer.sleeping.store(1, std::memory_order_seq_cst);
      if (txWaiting_.load(std::memory_order_acquire)) tx.producer.waiting.store(1, std::memory_order_seq_cst);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      ev = Check();
      if (ev == 0 && !stop_.load(std::memory_order_acquire)) {
        // Bounded sleeps: the doorbell lives in memory the peer can write. A peer that
        // zeroes it (or waits on it itself) could swallow the post that stops us, and
        // close() joins this thread on the JS thread; waking every 100 ms to look at stop_
        // bounds that, for the price of ten wake-ups a second on an idle link.
        WaitBell(bell, 100L * 1000 * 1000);
      }
      rx.consumer.sleeping.store(0, std::memory_order_relaxed);
      tx.producer.waiting.store(0, std::memory_order_relaxed);
      if (ev == 0) ev = Check();
    }
    if (ev == 0) continue;
    // Report once; JS re-arms when it has drained (Release with arm) or found the ring full again.
    if (ev & kEventData) rxArmed_.store(false, std::memory_order_relaxed);
    if (ev & kEventSpace) txWaiting_.store(false, std::memory_order_relaxed);
    notify_(ev);
  }
}

void Endpoint::StopWaiter() {
  if (waiter_.joinable()) {
    stop_.store(true, std::memory_order_release);
    Kick();
    waiter_.join();
  }
}

void Endpoint::Close() {
  StopWaiter();
  if (base_ != nullptr) {
    munmap(base_, bytes_);
    base_ = nullptr;
  }
  seg_ = nullptr;
}

}  // namespace shm
}  // namespace switchyard
