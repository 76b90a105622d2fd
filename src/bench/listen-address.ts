/**
 * listen-address.ts: where the bench listens for each addressed transport, inside a private
 * temp directory. A transport registered later without an entry here gets `scheme://dir/bench`
 * (a path-named object); if its addresses look different, add it here.
 */
const LISTEN_ADDRESS: Record<string, (dir: string) => string> = {
  unix: (dir) => `unix://${dir}/bench.sock`,
  fifo: (dir) => `fifo://${dir}/bench`,
  tcp: () => 'tcp://127.0.0.1:0',
  udp: () => 'udp://127.0.0.1:0',
  // Key 0 asks the transport to pick a free key; the listener reports the one it took.
  msgq: () => 'msgq://0',
  shm: (dir) => `shm://switchyard-bench-${process.pid}-${dir.slice(-6)}`,
};

export function listenAddress(scheme: string, dir: string): string {
  return (LISTEN_ADDRESS[scheme] ?? ((d: string) => `${scheme}://${d}/bench`))(dir);
}
