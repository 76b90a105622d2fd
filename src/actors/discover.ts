/**
 * discover.ts: system.discover(): the systems announcing where this one looks, as an
 * Observable of arrivals, changes of actors and departures (DiscoveryEvent). The watching is
 * the transport's (Transport.discover: nats watches its prefix's announce subject); this file
 * only makes it an Observable that starts on subscribe and stops on unsubscribe.
 *
 * Invariants: each subscription has its own watch, closed when it unsubscribes (also if that
 * happens before the watch is ready) or completes, which it does when the system stops (a
 * forgotten subscription must not hold a NATS connection open); the system's own
 * announcements are not reported; a
 * transport without discovery, a bad address or a broker that cannot be reached is the
 * Observable's error (a TransportError), never a throw from discover().
 */
import { Observable } from 'rxjs';
import { TransportError } from '../errors.js';
import { parseAddress, schemeOf } from '../transports/core/address.js';
import { getTransport } from '../transports/core/registry.js';
import type { DiscoveryEvent, DiscoveryWatch } from '../transports/core/transport.js';

/** `ends`: completes when the system stops; every discovery Observable completes with it. */
export function discoverAt(address: string, self: string, ends: Observable<unknown>): Observable<DiscoveryEvent> {
  return new Observable<DiscoveryEvent>((subscriber) => {
    let watch: DiscoveryWatch | undefined;
    let done = false;
    const stopped = ends.subscribe({ complete: () => subscriber.complete() });
    if (subscriber.closed) return;
    (async () => {
      const url = parseAddress(address);
      const transport = getTransport(schemeOf(url));
      if (!transport.discover) {
        throw new TransportError('ERR_NO_DISCOVERY', `${url.protocol} has nowhere to announce systems: discovery needs a broker (nats://host:port/prefix)`, { address });
      }
      return transport.discover(url, (e) => {
        if (e.name !== self && !done) subscriber.next(e);
      });
    })().then(
      (w) => {
        if (done) void w.close();
        else watch = w;
      },
      (err: unknown) => subscriber.error(err),
    );
    return () => {
      done = true;
      stopped.unsubscribe();
      void watch?.close();
    };
  });
}
