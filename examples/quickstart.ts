/**
 * quickstart.ts: switchyard in one page. The parent starts a child process that hosts a
 * counter actor, links to it over a socketpair, and uses all four interaction models.
 * Change 'socketpair' to 'pipe' (or listen/connect over 'unix://...', 'tcp://...') and the
 * rest of the code stays the same.
 *
 *   npx tsc && node dist/examples/quickstart.js
 */
import { fileURLToPath } from 'node:url';
import { lastValueFrom, of, toArray } from 'rxjs';
import { ActorSystem, spawnWithLink, type ActorRef } from '../src/index.js';
import type counter from './counter.js';

const system = await ActorSystem.start({ name: 'main' });
const host = fileURLToPath(new URL('./counter-host.js', import.meta.url));
const { link, child } = await spawnWithLink('socketpair', host);
const worker = await system.attach(link);

const ref: ActorRef<typeof counter> = worker.ref('counter');
ref.tell('inc', 2); // fire-and-forget
const n = await ref.ask('get'); // request-response: a Promise<number>
console.log(`ask get -> ${n}`);
const ticks = await lastValueFrom(ref.stream('ticks', 10, 3).pipe(toArray())); // request-stream
console.log(`stream ticks -> ${JSON.stringify(ticks)}`);
const scaled = await lastValueFrom(ref.channel('scale', of(1, 2, 3)).pipe(toArray())); // request-channel
console.log(`channel scale -> ${JSON.stringify(scaled)}`);
try {
  await ref.with({ timeout: 1000 }).ask('get');
  console.log('ask with a timeout -> ok');
} finally {
  await system.stop(); // says goodbye; the child sees the link close and exits
  if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
}
