/**
 * spawn-peer.ts: the actor module `switchyard bench --level spawn` hands to system.spawn()
 * and system.supervise(). As small as an actor gets, so the figures are the cost of starting
 * and linking a child, not of its work: `pid` answers with the process's pid, which lets the
 * restart measurement tell a new incarnation's answer from the old one's.
 */
import { defineActor } from '../../src/index.js';

export default defineActor({
  init: () => ({}),
  receive: {
    pid: () => process.pid,
  },
});
