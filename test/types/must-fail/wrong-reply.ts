// must not compile: get replies with a number
import type { ActorSystem } from '../../../src/index.js';
import type { counter } from '../counter-def.js';
export const f = (system: ActorSystem): Promise<string> => system.ref<typeof counter>('o/c').ask('get');
