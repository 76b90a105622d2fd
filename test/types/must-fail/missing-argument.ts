// must not compile: inc needs its argument
import type { ActorSystem } from '../../../src/index.js';
import type { counter } from '../counter-def.js';
export const f = (system: ActorSystem): Promise<void> => system.ref<typeof counter>('o/c').ask('inc');
