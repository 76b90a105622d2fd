/**
 * subject.ts: one row group of the bench table: something that can open a Channel to a peer
 * in another process (or thread), measured at every size. Our transports and the baselines
 * are all Subjects, so they are measured by the same code in the same run.
 */
import type { Channel } from './channel.js';
import type { BenchLevel } from './result.js';

export type SubjectKind = 'transport' | 'baseline';

export interface OpenContext {
  /** Called with each peer process's pid right after it starts (CPU pinning). */
  onPeerProcess(pid: number): Promise<void>;
}

export interface Subject {
  /** The name in the table and the JSON, e.g. `unix` or `child_process (json)`. */
  readonly name: string;
  readonly kind: SubjectKind;
  /**
   * What it measures: raw frames over a Link, or tell/ask through the bus. Absent on the
   * baselines, which are the same at either level: they are run once and tagged with the
   * run's first level (see levels.ts).
   */
  readonly level?: BenchLevel;
  /** True when the peer is a thread of this process, not another process. */
  readonly threads?: boolean;
  /** A remark for the table (how the figure should be read). */
  readonly note?: string;
  /** Starts the peer and connects to it. */
  open(ctx: OpenContext): Promise<Channel>;
}
