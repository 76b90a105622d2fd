/**
 * measure.ts: the two measurements, over any Channel.
 *
 * Round trips: one echo in flight at a time; each sample runs from just before send() to the
 * reply's arrival on the event loop. A reply must carry the seq of the echo in flight, so a
 * late reply to a lost datagram is never taken for the current one. On an unreliable channel
 * an echo unanswered for `lossTimeoutMs` is counted as lost and the next one goes out; on a
 * reliable one, `stallMs` without a reply is an error (a hung peer, not a slow one).
 *
 * Throughput: sinks for `durationMs`, sent as fast as the channel's backpressure allows, then
 * a REPORT; the clock stops when the receiver's count arrives, so the time includes draining
 * everything still queued. A reliable channel must confirm exactly what was sent; an
 * unreliable one reports what arrived, and the rest is counted as loss.
 */
import type { Channel } from './channel.js';
import { summarize, type Percentiles } from './stats.js';
import type { Reply } from './wire.js';

export interface RoundTripOptions {
  /** Stop after this many samples... */
  count: number;
  /** ...or after this long, whichever comes first (at least one sample is always taken). */
  maxMs: number;
  lossTimeoutMs: number;
  stallMs: number;
}

export interface RoundTripResult extends Percentiles {
  samples: number;
  lost: number;
}

export interface ThroughputResult {
  msgsPerSec: number;
  mbPerSec: number;
  sent: number;
  received: number;
  seconds: number;
}

let nextSeq = 1;
let nextPhase = 1;
let nextNonce = 1;

/** Measures `options.count` round trips of `size`-byte messages. */
export function roundTrips(channel: Channel, size: number, options: RoundTripOptions): Promise<RoundTripResult> {
  return new Promise((resolve, reject) => {
    const times = new Float64Array(options.count);
    let n = 0;
    let lost = 0;
    let seq = 0;
    let t0 = 0;
    const deadline = performance.now() + options.maxMs;
    // the last sign of life; a lossy channel that answers nothing at all is stalled too
    let lastReply = performance.now();
    const ping = (): void => {
      seq = nextSeq++ >>> 0;
      t0 = performance.now();
      channel.send({ tag: 'echo', seq }, size);
    };
    const finish = (): void => {
      clearInterval(watchdog);
      channel.onReply(() => {});
      const samples = times.subarray(0, n);
      resolve({ ...summarize(samples), samples: n, lost });
    };
    const watchdog = setInterval(() => {
      const waited = performance.now() - t0;
      if (performance.now() - lastReply > options.stallMs) {
        clearInterval(watchdog);
        channel.onReply(() => {});
        reject(new Error(`no echo reply within ${options.stallMs} ms`));
      } else if (!channel.reliable && waited > options.lossTimeoutMs) {
        lost++;
        if (performance.now() > deadline && n > 0) finish();
        else ping();
      } else if (waited > options.stallMs) {
        clearInterval(watchdog);
        channel.onReply(() => {});
        reject(new Error(`no echo reply within ${options.stallMs} ms`));
      }
    }, Math.min(20, options.lossTimeoutMs));
    channel.onReply((reply: Reply) => {
      if (reply.tag !== 'echo' || reply.seq !== seq) return;
      lastReply = performance.now();
      times[n++] = (lastReply - t0) * 1000;
      if (n === options.count || performance.now() > deadline) finish();
      else ping();
    });
    ping();
  });
}

/** Asks for the receiver's count of `phase`, repeating the request on an unreliable channel. */
function report(channel: Channel, phase: number, retryMs: number, stallMs: number): Promise<{ frames: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const nonce = nextNonce++ >>> 0;
    const started = performance.now();
    const ask = (): void => void channel.send({ tag: 'report', phase, nonce }, 0);
    const timer = setInterval(
      () => {
        if (performance.now() - started > stallMs) {
          clearInterval(timer);
          channel.onReply(() => {});
          reject(new Error(`the receiver did not report its count within ${stallMs} ms`));
        } else if (!channel.reliable) ask();
      },
      channel.reliable ? 100 : retryMs,
    );
    channel.onReply((reply) => {
      if (reply.tag !== 'report' || reply.nonce !== nonce) return;
      clearInterval(timer);
      channel.onReply(() => {});
      resolve({ frames: reply.frames, bytes: reply.bytes });
    });
    ask();
  });
}

/** `drained`, or an Error if the channel takes no more for `ms` (a hung peer). */
function stallGuard(drained: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the channel took nothing more for ${ms} ms`)), ms);
  });
  return Promise.race([drained, stalled]).finally(() => clearTimeout(timer));
}

/**
 * Sinks sent per event-loop turn: 256, or up to 256 KiB of small ones. A turn of the loop
 * costs a few microseconds whatever the channel; at 64 B, 256 sinks a turn made that cost a
 * third of the fastest transport's time, so the bench measured its own loop, not the channel.
 */
export function framesPerTurn(size: number): number {
  return Math.max(256, Math.min(4096, Math.floor((256 * 1024) / Math.max(1, size))));
}

/** Sends `size`-byte sinks for `durationMs`, then returns what the receiver confirmed. */
export async function throughput(
  channel: Channel,
  size: number,
  options: { durationMs: number; retryMs: number; stallMs: number },
): Promise<ThroughputResult> {
  const phase = nextPhase++ >>> 0;
  // Acks (credit) arrive during the run; the channel consumes them itself, the rest is noise here.
  channel.onReply(() => {});
  let sent = 0;
  const start = performance.now();
  const end = start + options.durationMs;
  const probe = { tag: 'sink', phase } as const;
  const perTurn = framesPerTurn(size);
  while (performance.now() < end) {
    // A batch per turn: stream transports write one tick's frames with one syscall.
    let open = true;
    for (let k = 0; k < perTurn && open; k++) {
      sent++;
      open = channel.send(probe, size);
    }
    if (!open) await stallGuard(channel.drain(), options.stallMs);
    else await new Promise((r) => setImmediate(r));
  }
  const { frames, bytes } = await report(channel, phase, options.retryMs, options.stallMs);
  const seconds = (performance.now() - start) / 1000;
  if (channel.reliable && frames !== sent) {
    throw new Error(`sent ${sent} messages but the receiver counted ${frames} on a reliable channel`);
  }
  if (frames > sent) throw new Error(`the receiver counted ${frames} messages but only ${sent} were sent`);
  if (bytes !== frames * size) throw new Error(`the receiver counted ${bytes} bytes in ${frames} messages of ${size}`);
  return { msgsPerSec: frames / seconds, mbPerSec: (frames * size) / seconds / 1e6, sent, received: frames, seconds };
}
