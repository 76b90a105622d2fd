/**
 * nats-idle-cost.ts: what idle switchyard nodes cost a NATS server, read from the server's
 * own /varz (in_msgs, in_bytes, out_msgs, out_bytes) over a window, for docs/PROTOCOL.md §9.
 *
 *   node dist/benchmarks/nats-idle-cost.js [seconds=20] [nodes=3]
 *
 * Starts its own nats-server (monitoring on), then, each for the window: `nodes` systems that
 * only listen (announcing at the default period) and one that also watches (discover()); the
 * same with every node linked to every other (the per-link PINGs of §9 on top). Prints
 * per-node figures. Stops everything it started.
 */
import { ActorSystem } from '../src/index.js';
import { startNatsServer, type NatsServer } from '../test/fixtures/nats-server.js';

interface Varz {
  in_msgs: number;
  in_bytes: number;
  out_msgs: number;
  out_bytes: number;
}

const seconds = Number(process.argv[2] ?? 20);
const nodes = Number(process.argv[3] ?? 3);

async function varz(s: NatsServer): Promise<Varz> {
  return (await (await fetch(`${s.monitorUrl!}/varz`)).json()) as Varz;
}

async function window(s: NatsServer, label: string, perNode: number): Promise<void> {
  await new Promise((r) => setTimeout(r, 2500)); // past the arrivals and handshakes
  const a = await varz(s);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = await varz(s);
  const rate = (k: keyof Varz): string => ((b[k] - a[k]) / seconds / perNode).toFixed(2);
  console.log(`${label}: per node per second: in ${rate('in_msgs')} msgs / ${rate('in_bytes')} B, out ${rate('out_msgs')} msgs / ${rate('out_bytes')} B`);
}

const server = await startNatsServer({ monitor: true });
try {
  const place = `${server.url}/idle`;
  const systems: ActorSystem[] = [];
  const addresses: string[] = [];
  for (let i = 0; i < nodes; i++) {
    const s = await ActorSystem.start({ name: `idle-${i}`, onError: () => {} });
    addresses.push((await s.listen(place)).address);
    systems.push(s);
  }
  await window(server, `${nodes} nodes announcing, nobody watching`, nodes);
  const watcher = systems[0]!.discover(place).subscribe();
  await window(server, `${nodes} nodes announcing, node 0 watching`, nodes);
  watcher.unsubscribe();
  for (let i = 0; i < nodes; i++) for (let j = i + 1; j < nodes; j++) await systems[i]!.connect(addresses[j]!);
  await window(server, `${nodes} nodes announcing, each linked to every other (${(nodes * (nodes - 1)) / 2} links)`, nodes);
  for (const s of systems) await s.stop();
} finally {
  await server.stop();
}
