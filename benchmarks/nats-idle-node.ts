/**
 * nats-idle-node.ts: one idle node for nats-idle-cost.ts, in a process of its own (so it has
 * its own NATS connection, as a real node does).
 *
 *   node dist/benchmarks/nats-idle-node.js <place> <name>
 *
 * Starts a system, listens at <place> (announcing at the default period) and prints its
 * address on a line. Then reads lines on stdin: an address connects to it and prints "linked";
 * "stop" stops the system and exits.
 */
import { createInterface } from 'node:readline';
import { ActorSystem } from '../src/index.js';

const [place, name] = process.argv.slice(2);
const system = await ActorSystem.start({ name: name!, onError: () => {} });
console.log((await system.listen(place!)).address);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'stop') break;
  await system.connect(line);
  console.log('linked');
}
await system.stop();
process.exit(0);
