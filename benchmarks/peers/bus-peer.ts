/**
 * bus-peer.ts: the far end of a bus-level bench, run as a child process.
 *
 *   node bus-peer.js <inherit|ADDRESS>
 *
 * An ActorSystem hosting the bench actor (bus-bench-actor.ts), on the link its parent handed
 * it or connected to ADDRESS. The bench knows it is ready when the bus handshake completes
 * (the actor is hosted before). Exits when the bench's system says goodbye or its link ends.
 */
import { ActorSystem, linkFromParent } from '../../src/index.js';
import { BENCH_ACTOR, benchActor } from '../bus-bench-actor.js';

const where = process.argv[2];
if (where === undefined) throw new Error('usage: bus-peer.js <inherit|ADDRESS>');
const system = await ActorSystem.start({ name: `bench-peer-${process.pid}` });
system.local(benchActor, { name: BENCH_ACTOR });
const bench = where === 'inherit' ? await system.attach(await linkFromParent()) : await system.connect(where);
await bench.closed;
await system.stop();
