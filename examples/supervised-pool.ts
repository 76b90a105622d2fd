/**
 * supervised-pool.ts: a supervised pool of worker processes streaming results to their
 * parent. Run it with `npx tsc && node dist/examples/supervised-pool.js`
 * (test/supervision/example.test.ts runs it and checks what it prints).
 *
 * One worker is killed on the way: the stream it served errors with PeerGoneError, and
 * RxJS's own retry() reaches the worker its supervisor has already restarted.
 */
import { lastValueFrom, retry, toArray } from 'rxjs';
import { ActorSystem } from '../src/index.js';
import type worker from './pool-worker.js';

const system = await ActorSystem.start({ name: 'example' });
const pool = await system.spawnPool<typeof worker>(new URL('./pool-worker.js', import.meta.url), { size: 3, name: 'squares' });
console.log(`${pool.size} workers running`);

// six jobs at once, spread over the workers (fewest in flight first), each streaming back
const jobs = [1, 4, 7, 10, 13, 16];
const results = await Promise.all(jobs.map((from) => lastValueFrom(pool.stream('squares', from, 3).pipe(toArray()))));
for (const [i, r] of results.entries()) console.log(`job ${i + 1} -> ${r.join(',')}`);

// a worker dies under us; its supervisor restarts it, and retry() finds the new process
const victim = pool.workers[0]!;
const oldPid = victim.pid;
process.kill(oldPid!, 'SIGKILL');
const again = await lastValueFrom(victim.stream('squares', 19, 3).pipe(retry({ count: 5, delay: 100 }), toArray()));
console.log(`worker restarted as a new process: ${victim.pid !== oldPid}; job 7 -> ${again.join(',')}`);

await system.stop();
console.log('stopped');
