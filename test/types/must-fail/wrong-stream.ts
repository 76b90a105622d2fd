// must not compile: ticks emits numbers and takes a number
import type { Observable } from 'rxjs';
import type { ActorSystem } from '../../../src/index.js';
import type { counter } from '../counter-def.js';
export const f = (system: ActorSystem): Observable<string> => system.ref<typeof counter>('o/c').stream('ticks', 100);
