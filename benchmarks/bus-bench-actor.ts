/**
 * bus-bench-actor.ts: the actor a bus-level bench peer hosts: the bus counterpart of the
 * byte probes in wire.ts. `echo` answers with the payload it was sent (so a round trip moves
 * `size` bytes each way, as at the Link level); `sink` counts tells per phase; `report`
 * returns a phase's count. Counts are cumulative and `report` never resets them (a repeated
 * report on a best-effort link gets the same answer).
 */
import { defineActor } from '../src/index.js';

export interface SinkCount {
  frames: number;
  bytes: number;
}

export const BENCH_ACTOR = 'bench';

export const benchActor = defineActor({
  init: () => ({ phases: new Map<number, SinkCount>() }),
  receive: {
    echo: (_s, payload: Uint8Array) => payload,
    sink: (s, phase: number, payload: Uint8Array) => {
      let c = s.phases.get(phase);
      if (!c) s.phases.set(phase, (c = { frames: 0, bytes: 0 }));
      c.frames++;
      c.bytes += payload.byteLength;
    },
    report: (s, phase: number): SinkCount => s.phases.get(phase) ?? { frames: 0, bytes: 0 },
  },
});
