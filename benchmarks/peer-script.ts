/**
 * peer-script.ts: where the compiled bench peers are: benchmarks/peers/NAME.js beside this
 * file, found from this module's own URL so the bench runs from a checkout and from an
 * installed package alike.
 */
import { fileURLToPath } from 'node:url';

/** The compiled peer script `name` (in benchmarks/peers/). */
export function peerScript(name: string): string {
  return fileURLToPath(new URL(`./peers/${name}.js`, import.meta.url));
}
