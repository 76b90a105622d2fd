/**
 * hand-over.ts: gives an accepted link to the application's onLink callback.
 *
 * A throwing callback is the application's bug: the link it was given is closed (through its
 * own close path, never by closing fds a socket owns), and the error is rethrown on the next
 * tick, as Node does for a throwing event listener, rather than swallowed. The listener and
 * every other link are untouched.
 */
import type { Link } from './transport.js';

export function handOver(onLink: (link: Link) => void, link: Link): void {
  try {
    onLink(link);
  } catch (err) {
    void link.close();
    process.nextTick(() => {
      throw err;
    });
  }
}
