/**
 * ledger.ts: what one transport's traffic promised and what became of it. Pure bookkeeping:
 * the driver (driver.ts) reports every send and outcome, the report reads the counts, and
 * every broken promise is kept as a sentence in `violations`.
 *
 * What "lost" means, given that children are SIGKILLed on purpose:
 * - Tells go out in windows, each closed by a `sync` ask to the same child. The answer lists
 *   the tells the answering incarnation received since its previous sync. A tell of the
 *   window that is not in it is LOST if the window was clean: the child was running when the
 *   window began, the answer comes from that same pid, and the child never exited in between
 *   (one link, one mailbox, in order: an answered ask vouches for every tell sent before it).
 *   Otherwise it is IN DOUBT: it may have died with a killed incarnation (or been held for
 *   the next one); if a later answer lists it, it becomes received.
 *   A tell listed twice, listed but never sent, or listed out of order breaks a promise.
 * - Asks: each is answered with exactly what was sent, or rejected with PeerGoneError (its
 *   child went). A wrong answer, any other error, or no settlement by the end breaks a
 *   promise; on an unreliable transport a timeout is counted as lost instead.
 * - Streams: values arrive in order with no duplicates and the stream completes, or errors
 *   with PeerGoneError (cut by a kill: what arrived must still be a gap-free prefix).
 * On a reliable transport every loss is a violation; on an unreliable one (udp, nats) losses
 * are counted and reported, and only duplication, disorder and corruption are violations.
 */

/** The counts of one transport, for the report. */
export interface LedgerCounts {
  tellsSent: number;
  tellsRefused: number;
  tellsReceived: number;
  tellsInDoubt: number;
  tellsLost: number;
  asksSent: number;
  asksAnswered: number;
  asksPeerGone: number;
  asksLost: number;
  streamsOpened: number;
  streamsCompleted: number;
  streamsCut: number;
  streamValues: number;
  streamValuesLost: number;
  kills: number;
  restarts: number;
}

/** Up to this many violation sentences are kept verbatim; the rest are counted. */
const MAX_KEPT = 20;

export class Ledger {
  readonly counts: LedgerCounts = {
    tellsSent: 0,
    tellsRefused: 0,
    tellsReceived: 0,
    tellsInDoubt: 0,
    tellsLost: 0,
    asksSent: 0,
    asksAnswered: 0,
    asksPeerGone: 0,
    asksLost: 0,
    streamsOpened: 0,
    streamsCompleted: 0,
    streamsCut: 0,
    streamValues: 0,
    streamValuesLost: 0,
    kills: 0,
    restarts: 0,
  };
  readonly violations: string[] = [];
  private violationCount = 0;
  /** Tells sent and not yet listed by any answer: 'pending' in the open window, 'doubt' after. */
  private readonly open = new Map<number, 'pending' | 'doubt'>();
  private highestReceived = -1;

  constructor(
    readonly transport: string,
    readonly reliable: boolean,
  ) {}

  /** Every violation, counted (some may be elided from `violations`). */
  get broken(): number {
    return this.violationCount;
  }

  violation(text: string): void {
    this.violationCount++;
    if (this.violations.length < MAX_KEPT) this.violations.push(text);
  }

  /** A loss: a violation on a reliable transport, a count either way. */
  private loss(text: string): void {
    if (this.reliable) this.violation(text);
  }

  tellSent(seq: number): void {
    this.counts.tellsSent++;
    this.open.set(seq, 'pending');
  }

  /** The ref refused the tell synchronously (queue full while the child restarts): never sent. */
  tellRefused(): void {
    this.counts.tellsRefused++;
  }

  /**
   * A window's sync was answered. `window` = the tells sent since the previous sync was sent;
   * `clean` = the pid that answered was running when the window began and never exited meanwhile.
   */
  settleWindow(window: readonly number[], seqs: readonly number[], clean: boolean): void {
    let prev = -1;
    for (const seq of seqs) {
      if (seq <= prev) this.violation(`tell ${seq} arrived after tell ${prev} (out of order or duplicated)`);
      prev = seq;
      const state = this.open.get(seq);
      if (state === undefined) {
        this.violation(seq <= this.highestReceived ? `tell ${seq} was received twice` : `tell ${seq} was received but never sent`);
        continue;
      }
      if (state === 'doubt') this.counts.tellsInDoubt--;
      this.open.delete(seq);
      this.counts.tellsReceived++;
      this.highestReceived = Math.max(this.highestReceived, seq);
    }
    const missing: number[] = [];
    for (const seq of window) {
      if (this.open.get(seq) !== 'pending') continue;
      if (clean) {
        this.open.delete(seq);
        this.counts.tellsLost++;
        missing.push(seq);
      } else {
        this.open.set(seq, 'doubt');
        this.counts.tellsInDoubt++;
      }
    }
    if (missing.length) this.loss(`${missing.length} acknowledged tell(s) lost (first: ${missing[0]}): the answer to the sync after them did not list them`);
  }

  /** A window's sync failed (its child went): its tells are in doubt. */
  abandonWindow(window: readonly number[]): void {
    for (const seq of window) {
      if (this.open.get(seq) !== 'pending') continue;
      this.open.set(seq, 'doubt');
      this.counts.tellsInDoubt++;
    }
  }

  askSent(): void {
    this.counts.asksSent++;
  }

  askAnswered(correct: boolean, what: string): void {
    if (correct) this.counts.asksAnswered++;
    else this.violation(`ask ${what} was answered with something else than it sent`);
  }

  askPeerGone(): void {
    this.counts.asksPeerGone++;
  }

  /** An ask that ended any other way: `timedOut` counts as lost where losses are allowed. */
  askFailed(err: unknown, timedOut: boolean): void {
    if (timedOut && !this.reliable) {
      this.counts.asksLost++;
      return;
    }
    this.violation(`an ask failed with ${describe(err)}`);
  }

  streamOpened(): void {
    this.counts.streamsOpened++;
  }

  /** One value; `expected` is the next index. Returns the index expected after it. */
  streamValue(value: unknown, expected: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.violation(`a stream sent ${JSON.stringify(value)}, not an index`);
      return expected;
    }
    if (value < expected) {
      this.violation(`a stream sent ${value} after ${expected - 1} (duplicated or out of order)`);
      return expected;
    }
    if (value > expected) {
      this.counts.streamValuesLost += value - expected;
      this.loss(`a stream skipped ${expected} .. ${value - 1}`);
    }
    this.counts.streamValues++;
    return value + 1;
  }

  /** The stream ended: completed with `got` of `n` values, or cut by its child going. */
  streamEnded(how: 'complete' | 'peer-gone', got: number, n: number): void {
    if (how === 'peer-gone') {
      this.counts.streamsCut++;
      return;
    }
    this.counts.streamsCompleted++;
    if (got < n) {
      this.counts.streamValuesLost += n - got;
      this.loss(`a stream of ${n} completed after ${got} values`);
    }
  }

  streamFailed(err: unknown): void {
    if (!this.reliable) {
      this.counts.streamsCut++;
      return;
    }
    this.violation(`a stream failed with ${describe(err)}`);
  }

  /** Asks or streams still unsettled when the run ended. */
  unsettled(what: string): void {
    this.violation(`${what} never settled (neither answered nor rejected)`);
  }

  /** Messages sent (tells, asks, and stream values the consumer asked for and got or lost). */
  get sent(): number {
    const c = this.counts;
    return c.tellsSent + c.asksSent + c.streamValues + c.streamValuesLost;
  }

  get received(): number {
    const c = this.counts;
    return c.tellsReceived + c.asksAnswered + c.streamValues;
  }

  get lost(): number {
    const c = this.counts;
    return c.tellsLost + c.asksLost + c.streamValuesLost;
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}${'code' in err ? ` ${String((err as { code: unknown }).code)}` : ''}: ${err.message}`;
  return String(err);
}
