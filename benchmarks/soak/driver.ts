/**
 * driver.ts: the traffic of one transport: one supervised child, and loops that send it tell
 * windows closed by a sync ask, echo asks of mixed sizes, and credit-pulled streams, every
 * outcome booked in the transport's Ledger (see ledger.ts for what counts as lost).
 *
 * Invariants: a tell window is sent only after the previous window's sync settled, so an
 * answer vouches for exactly one window; every loop passes the Gate between two operations,
 * so a checkpoint sees nothing in flight; `busy` names what each loop awaits, so a loop that
 * never comes back at the end is reported as that operation never settling.
 */
import { AskTimeoutError, ChildQueueFullError, PeerGoneError, type SupervisedRef } from '../../src/index.js';
import type { Gate } from './gate.js';
import type { Ledger } from './ledger.js';
import type { SyncReply } from './soak-actor.js';

/** Tells per window (one sync ask closes each). */
const WINDOW = 25;
/** Echo asks in flight per transport. */
const ASK_LOOPS = 2;
/** Values per stream. */
const STREAM_LENGTH = 100;
/** Echo payload sizes, bytes; 64 KiB ones are rare and make udp, msgq and shm fragment. */
const SIZES = [16, 16, 200, 200, 1500, 8192, 65536];
/** Pause between two operations of one loop, ms: a modest load on a shared 2-core machine. */
const PACE_MS = 20;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A 'x..' string of `n` bytes with `tag` in front, so a mixed-up answer cannot look right. */
function payload(tag: number, n: number): { tag: number; pad: string } {
  return { tag, pad: `${tag}:`.padEnd(n, 'x') };
}

export class TransportDriver {
  /** Exits of the child seen on status$ (kills and anything else). */
  exits = 0;
  /** Every pid the child ran as. */
  readonly pids = new Set<number>();
  private readonly busy = new Map<string, string>();
  private seq = 0;
  private askTag = 0;

  constructor(
    readonly transport: string,
    readonly ref: SupervisedRef,
    readonly ledger: Ledger,
  ) {
    ref.status$.subscribe((s) => {
      if (s.type === 'exited') this.exits++;
      else if (s.type === 'running') {
        if (this.pids.size > 0) ledger.counts.restarts++;
        this.pids.add(s.pid);
      }
    });
  }

  /** Starts every loop under `gate`; resolves when all have ended. */
  run(gate: Gate): Promise<void> {
    const loops = [gate.run(() => this.tells(gate))];
    for (let i = 0; i < ASK_LOOPS; i++) loops.push(gate.run(() => this.asks(gate, `ask-${i}`)));
    loops.push(gate.run(() => this.streams(gate)));
    return Promise.all(loops).then(() => undefined);
  }

  /** What the loops still await (empty once all ended). */
  unsettled(): string[] {
    return [...this.busy.values()];
  }

  private async tells(gate: Gate): Promise<void> {
    while (await gate.pass()) {
      const window: number[] = [];
      const exitsBefore = this.exits;
      // the incarnation the window's tells go to, if it is up now (else they are held for the next)
      const pidBefore = this.ref.pid;
      for (let i = 0; i < WINDOW; i++) {
        const seq = this.seq++;
        try {
          this.ref.tell('note', seq);
          this.ledger.tellSent(seq);
          window.push(seq);
        } catch (err) {
          if (err instanceof ChildQueueFullError || err instanceof PeerGoneError) this.ledger.tellRefused();
          else this.ledger.violation(`a tell threw ${String(err)}`);
        }
      }
      this.ledger.askSent();
      this.busy.set('tells', `the sync ask after tells ${window[0]} .. ${window.at(-1)}`);
      try {
        const reply = (await this.ref.ask('sync')) as SyncReply;
        this.ledger.askAnswered(true, 'sync');
        this.ledger.settleWindow(window, reply.seqs, reply.pid === pidBefore && this.exits === exitsBefore);
      } catch (err) {
        this.ledger.abandonWindow(window);
        this.askFailed(err);
      }
      this.busy.delete('tells');
      await sleep(PACE_MS);
    }
  }

  private async asks(gate: Gate, name: string): Promise<void> {
    while (await gate.pass()) {
      const tag = this.askTag++;
      const size = SIZES[tag % SIZES.length]!;
      const sent = payload(tag, size);
      this.ledger.askSent();
      this.busy.set(name, `echo ask #${tag} (${size} B)`);
      try {
        const got = (await this.ref.ask('echo', sent)) as { tag: number; pad: string } | undefined;
        this.ledger.askAnswered(got?.tag === sent.tag && got.pad === sent.pad, `#${tag} (${size} B)`);
      } catch (err) {
        this.askFailed(err);
      }
      this.busy.delete(name);
      await sleep(PACE_MS);
    }
  }

  private askFailed(err: unknown): void {
    if (err instanceof PeerGoneError) this.ledger.askPeerGone();
    else this.ledger.askFailed(err, err instanceof AskTimeoutError);
  }

  private async streams(gate: Gate): Promise<void> {
    while (await gate.pass()) {
      this.ledger.streamOpened();
      this.busy.set('streams', `a stream of ${STREAM_LENGTH}`);
      await new Promise<void>((resolve) => {
        let expected = 0;
        this.ref.stream('seq', STREAM_LENGTH).subscribe({
          next: (v) => (expected = this.ledger.streamValue(v, expected)),
          error: (err: unknown) => {
            if (err instanceof PeerGoneError) this.ledger.streamEnded('peer-gone', expected, STREAM_LENGTH);
            else this.ledger.streamFailed(err);
            resolve();
          },
          complete: () => {
            this.ledger.streamEnded('complete', expected, STREAM_LENGTH);
            resolve();
          },
        });
      });
      this.busy.delete('streams');
      await sleep(PACE_MS);
    }
  }
}
