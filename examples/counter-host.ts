/**
 * counter-host.ts: the child process of quickstart.ts. It hosts a counter and serves it
 * over the link its parent made (spawnWithLink), until the parent goes away.
 */
import { ActorSystem, linkFromParent } from '../src/index.js';
import counter from './counter.js';

const system = await ActorSystem.start({ name: 'worker' });
system.local(counter, { name: 'counter', args: [10] });
const parent = await system.attach(await linkFromParent());
await parent.closed;
await system.stop();
