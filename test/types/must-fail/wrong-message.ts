// must not compile: "dec" is not a message of counter
import type { ActorSystem } from '../../../src/index.js';
import type { counter } from '../counter-def.js';
export const f = (system: ActorSystem): void => system.ref<typeof counter>('o/c').tell('dec', 1);
