/**
 * worker.ts: one demo worker process (started by demo.ts).
 *
 *   node worker.js NAME <inherit|ADDRESS>
 *
 * Hosts the demo worker actor in a system named NAME, on the link its parent handed it or
 * connected to ADDRESS, and exits when the hub says goodbye or goes away. It ignores SIGINT:
 * Ctrl-C reaches the whole process group, and the hub, not the terminal, ends the workers
 * (so they leave in order, and go at once if the hub dies).
 */
import { ActorSystem, linkFromParent } from '../../index.js';
import { demoWorker, WORKER_ACTOR } from './worker-actor.js';

const [name, where] = process.argv.slice(2);
if (name === undefined || where === undefined) throw new Error('usage: worker.js NAME <inherit|ADDRESS>');
process.on('SIGINT', () => {});
const system = await ActorSystem.start({
  name,
  onError: (err, context) => process.stderr.write(`[${name}] ${context}: ${err instanceof Error ? err.message : String(err)}\n`),
});
system.local(demoWorker, { name: WORKER_ACTOR });
const hub = where === 'inherit' ? await system.attach(await linkFromParent()) : await system.connect(where);
await hub.closed;
await system.stop();
process.exit(0);
