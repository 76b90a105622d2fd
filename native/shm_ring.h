// shm_ring.h: the shared-memory segment of an `shm:` link (two SPSC rings, one each way) and
// one process's endpoint on it: mapping, publish/release of positions, and the waiter thread.
// Plain C++ (no N-API), so native/test/shm_ring_test.cc can run it under AddressSanitizer.
//
// Segment layout (one mapping, MAP_SHARED; side 0 made it, side 1 attached):
//
//   0      +--------------------------------------------------------------+
//          | SegmentHeader: magic, version, capacity, pid[2]   (line 0)   |
//   64     | ring[0].producer: position u64, waiting u32       (line 1)   |  side 0 writes
//   128    | ring[0].consumer: position u64, sleeping u32      (line 2)   |  side 1 writes
//   192    | ring[1].producer                                  (line 3)   |  side 1 writes
//   256    | ring[1].consumer                                  (line 4)   |  side 0 writes
//   320    | doorbell[0]: futex word u32, posted to wake side 0 (line 5)  |
//   384    | doorbell[1]: futex word u32, posted to wake side 1 (line 6)  |
//   4096   +--------------------------------------------------------------+
//          | ring[0] data: `capacity` bytes, side 0 -> side 1             |
//          +--------------------------------------------------------------+
//          | ring[1] data: `capacity` bytes, side 1 -> side 0             |
//          +--------------------------------------------------------------+
//
// Records in a ring's data (this file and shm_ring.cc are their only writer and reader: Claim,
// Commit and Read below; JavaScript writes payloads into a claimed region and reads payloads
// out of a record, never a header):
//
//   position % capacity
//   v
//   +--------------+--------------+--------------------------------+---------+
//   | length: u32  | flags: u32   | payload: `length` bytes        | 0-7 pad |   8-byte aligned
//   +--------------+--------------+--------------------------------+---------+
//
// flags: 0 data (a batch of frames in the stream framing, docs/PROTOCOL.md §1: the record
// format is this file's, the frame format is the project's), 1 padding (skip to the start of
// the data area: written at the wrap when the next record does not fit in the bytes left),
// 2 a fragment piece (src/transports/datagram/fragment.ts), one piece per record.
// A record never wraps, never runs past the producer position, and a padding record always
// ends exactly at the end of the data area. Positions are byte counts since the start, never
// wrapped (u64); offset = position % capacity. Everything Read() takes from the ring is checked
// against those rules first: the peer may be hostile.
//
// Memory ordering (who writes what):
// - producer.position: written only by the producer, store-release after the records are
//   written (JS writes the payload before calling Commit, a call the JIT cannot reorder
//   stores across; Commit writes the header and fences before the store); read by the
//   consumer with load-acquire, so every record below the position is visible to it.
// - consumer.position: written only by the consumer, store-release once it is done with the
//   records below it (the frames handed to JS were only valid during the callback); read by
//   the producer with load-acquire before it overwrites that space.
// - consumer.sleeping / producer.waiting: "I am going to sleep on my doorbell; post it when the
//   position you own moves". Set by the sleeper (seq_cst store), then the sleeper re-checks
//   the other side's position; the other side stores its position, issues a seq_cst fence and
//   then reads the flag, and posts the doorbell only if it exchanged a 1 for a 0. That is the
//   Dekker pattern: at least one of the two sees the other's store, so no wake-up is lost;
//   an extra post only costs one more loop of the waiter.
// - doorbell[s]: a futex word; only side s waits on it (its waiter thread), both sides post
//   it (the peer for data/space, side s itself to kick its own waiter).
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>

namespace switchyard {
namespace shm {

constexpr uint64_t kMagic = 0x314d48534459575fULL;  // "_WYDSHM1" in memory order
// 2: records carry batches of frames, claimed and committed here (1: one frame per record,
// written by JavaScript).
constexpr uint32_t kVersion = 2;
constexpr size_t kCacheLine = 64;
constexpr size_t kHeaderBytes = 4096;
constexpr uint32_t kRecordHeader = 8;
constexpr uint32_t kFlagData = 0;
constexpr uint32_t kFlagPadding = 1;
constexpr uint32_t kFlagPiece = 2;
// Claim() results below 0.
constexpr int kClaimFull = -1;     // not enough free space now ("full" is a result, not an error)
constexpr int kClaimCorrupt = -2;  // the peer's consumer position cannot be right
constexpr int kClaimOpen = -3;     // a claim is already open (a caller bug)
constexpr int kClaimTooLarge = -4; // minBytes can never fit one record of this ring
// Commit() results.
constexpr int kCommitOk = 0;
constexpr int kCommitNoClaim = -1;    // no open claim
constexpr int kCommitBadLength = -2;  // longer than the claimed room
constexpr int kCommitBadFlags = -3;   // not kFlagData or kFlagPiece
// Read() results: 1 a record, 0 nothing new, below 0 the ring is corrupt (the link ends).
constexpr int kReadRecord = 1;
constexpr int kReadEmpty = 0;
constexpr int kReadBadPosition = -1;  // producer position behind us, too far ahead, or unaligned
constexpr int kReadBadLength = -2;    // a record that runs past the data area
constexpr int kReadPastProducer = -3; // a record that runs past the producer position
constexpr int kReadBadPadding = -4;   // a padding record that does not end at the wrap
constexpr int kReadBadFlags = -5;     // unknown flags
// Events the waiter reports.
constexpr uint32_t kEventData = 1;   // the receive ring has records past what JS consumed
constexpr uint32_t kEventSpace = 2;  // the send ring's consumer moved since JS found it full

static_assert(std::atomic<uint64_t>::is_always_lock_free, "positions must be lock-free across processes");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "flags must be lock-free across processes");

struct alignas(kCacheLine) SegmentHeader {
  uint64_t magic;  // written last by the creator (release), checked first by the attacher
  uint32_t version;
  uint32_t headerBytes;
  uint64_t capacity;  // bytes of data per ring, a multiple of 8
  int32_t pid[2];     // pid[s]: the process on side s (informational, for debugging)
};

struct alignas(kCacheLine) ProducerLine {
  std::atomic<uint64_t> position;
  std::atomic<uint32_t> waiting;  // the producer sleeps until the consumer moves
};

struct alignas(kCacheLine) ConsumerLine {
  std::atomic<uint64_t> position;
  std::atomic<uint32_t> sleeping;  // the consumer sleeps until the producer moves
};

struct RingControl {
  ProducerLine producer;
  ConsumerLine consumer;
};

// A futex word, not a sem_t: see PostBell/WaitBell in shm_ring.cc (a sem_t the peer scribbles
// on makes glibc abort the waiting process).
struct alignas(kCacheLine) Doorbell {
  std::atomic<uint32_t> word;
};

struct Segment {
  SegmentHeader header;
  RingControl ring[2];  // ring[s]: produced by side s
  Doorbell doorbell[2];
};
static_assert(sizeof(Segment) <= kHeaderBytes, "segment control must fit its page");
// The offsets are protocol (docs/PROTOCOL.md §5): a peer in another language relies on them.
static_assert(offsetof(Segment, ring[0].producer) == 64 && offsetof(Segment, ring[0].consumer) == 128 &&
                  offsetof(Segment, ring[1].producer) == 192 && offsetof(Segment, ring[1].consumer) == 256 &&
                  offsetof(Segment, doorbell[0]) == 320 && offsetof(Segment, doorbell[1]) == 384,
              "segment layout changed: update docs/PROTOCOL.md and kVersion");

inline uint64_t Align8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

// A record Read() found: where its payload is in the mapping, and where the next one starts.
struct RecordView {
  uint64_t offset;  // from the start of the mapping (base())
  uint32_t length;
  uint32_t flags;
  uint64_t end;     // the position after this record (release up to it once it is consumed)
};

// Bytes of the whole segment for a ring capacity.
inline size_t SegmentBytes(uint64_t capacity) { return kHeaderBytes + 2 * capacity; }

// One process's side of a mapped segment. Not copyable; Close() (or the destructor) stops
// and joins the waiter thread and unmaps.
class Endpoint {
 public:
  using Notify = std::function<void(uint32_t events)>;

  Endpoint() = default;
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;
  ~Endpoint();

  // Maps `fd` (already sized by the creator). Side 0 initialises the header and semaphores;
  // side 1 checks them. Returns 0 or an errno (EPROTO for a segment that is not ours).
  int Map(int fd, int side, uint64_t capacity);
  // Starts the waiter thread; `notify` runs on it (must be thread-safe and quick).
  // Returns 0, or the errno of a thread that could not be made (EAGAIN at a thread limit).
  int Start(uint64_t spinNs, Notify notify);

  // Producer: claims one contiguous region of the send ring for a record of at least
  // `minBytes` of payload and at most `maxBytes` (>= minBytes): writes a padding record first
  // if the region must start after the wrap. Returns the region's offset in the mapping and
  // sets *room to the payload bytes it holds (up to the wrap, the free space, or maxBytes),
  // or returns kClaimFull / kClaimCorrupt / kClaimOpen / kClaimTooLarge. Nothing is visible
  // to the consumer before Commit().
  int64_t Claim(uint32_t minBytes, uint32_t maxBytes, uint32_t* room);
  // Producer: ends the open claim with a record of `length` payload bytes (0: no record) and
  // `flags`, and publishes it (and any padding before it), waking a sleeping consumer.
  // Returns kCommitOk or a kCommit* error (the claim then stays open).
  int Commit(uint32_t length, uint32_t flags);
  // Producer: the send ring was full at the consumer position Claim() last saw; report
  // kEventSpace once the consumer moves past it.
  void WantSpace();
  // Consumer: done with records below `position` on the receive ring; wakes a producer that
  // waits for space. With `arm`, reports kEventData once records past `position` arrive.
  // Returns the receive ring's producer position.
  uint64_t Release(uint64_t position, bool arm);
  // Consumer: the next data or piece record of the receive ring (padding is skipped), checked
  // against the producer position and the ring's bounds before any of it is used. Returns
  // kReadRecord (and fills *out), kReadEmpty, or a kRead* corruption code. `readPosition()`
  // is the position after everything read so far, padding included.
  int Read(RecordView* out);
  uint64_t readPosition() const { return rxHead_; }
  // Consumer: the receive ring's producer position (acquire).
  uint64_t Available() const;

  // Stops and joins the waiter thread. Idempotent.
  void StopWaiter();
  // StopWaiter(), then unmaps. Idempotent.
  void Close();

  uint8_t* base() const { return base_; }
  size_t bytes() const { return bytes_; }
  uint64_t capacity() const { return capacity_; }
  size_t sendOffset() const { return kHeaderBytes + static_cast<size_t>(side_) * capacity_; }
  size_t receiveOffset() const { return kHeaderBytes + static_cast<size_t>(1 - side_) * capacity_; }
  // Drops the mapping without unmapping it (the caller took ownership of base()/bytes()).
  void ForgetMapping() { base_ = nullptr; }

 private:
  uint32_t Check();
  void Kick();
  void Publish();
  void Run(uint64_t spinNs);

  uint8_t* base_ = nullptr;
  size_t bytes_ = 0;
  Segment* seg_ = nullptr;
  uint64_t capacity_ = 0;
  int side_ = 0;
  // Producer state (JS thread only): the position after the last claimed/committed record,
  // the consumer position last read (Aeron's cached head: the consumer's line is touched
  // only when it does not already show room), and the open claim.
  uint64_t txTail_ = 0;
  uint64_t txConsumerCache_ = 0;
  bool claimOpen_ = false;
  uint64_t claimOffset_ = 0;  // ring offset of the claimed record's header
  uint32_t claimRoom_ = 0;
  // Consumer state (JS thread only): the position after the last record Read() returned.
  uint64_t rxHead_ = 0;
  Notify notify_;
  std::thread waiter_;
  std::atomic<bool> stop_{false};
  // Set by the JS thread, read by the waiter.
  std::atomic<bool> rxArmed_{false};
  std::atomic<uint64_t> rxSeen_{0};
  std::atomic<bool> txWaiting_{false};
  std::atomic<uint64_t> txSeen_{0};
};

}  // namespace shm
}  // namespace switchyard
