/**
 * nats-idle-cost.ts: what idle switchyard nodes cost a NATS server, read from the server's
 * own monitoring (per client connection in /connz: in_msgs, in_bytes, out_msgs, out_bytes)
 * over a window, for docs/PROTOCOL.md §9.
 *
 *   node dist/benchmarks/nats-idle-cost.js [seconds=10] [sizes=1,3,8]
 *
 * Starts its own nats-server (monitoring on). For each size n: n nodes, each a process of its
 * own (nats-idle-node.ts: one NATS connection each), that listen and announce at the default
 * period, every one linked to every other (a full mesh); then one hub linked to n peers that
 * are not linked to each other (a star). Prints, per second, what one node costs: the mean
 * over the mesh's nodes, and the hub's own. In = what the node publishes, out = what the
 * server delivers to it; bytes are payload bytes. Stops everything it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startNatsServer, type NatsServer } from '../test/fixtures/nats-server.js';

interface ConnStats {
  cid: number;
  name?: string;
  in_msgs: number;
  in_bytes: number;
  out_msgs: number;
  out_bytes: number;
}

const seconds = Number(process.argv[2] ?? 10);
const sizes = (process.argv[3] ?? '1,3,8').split(',').map(Number);
const nodeScript = fileURLToPath(new URL('./nats-idle-node.js', import.meta.url));

class Node {
  private readonly lines: Interface;
  private readonly waiting: ((line: string) => void)[] = [];
  constructor(readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! });
    this.lines.on('line', (l) => this.waiting.shift()?.(l));
  }
  next(): Promise<string> {
    return new Promise((r) => this.waiting.push(r));
  }
  async link(address: string): Promise<void> {
    const ok = this.next();
    this.child.stdin!.write(`${address}\n`);
    if ((await ok) !== 'linked') throw new Error('a node failed to link');
  }
}

async function connz(s: NatsServer): Promise<Map<string, ConnStats>> {
  const body = (await (await fetch(`${s.monitorUrl!}/connz?limit=1000`)).json()) as { connections: ConnStats[] };
  return new Map(body.connections.map((c) => [c.name ?? String(c.cid), c]));
}

async function startNodes(place: string, n: number): Promise<{ nodes: Node[]; addresses: string[] }> {
  const nodes: Node[] = [];
  const addresses: string[] = [];
  for (let i = 0; i < n; i++) {
    const node = new Node(spawn(process.execPath, [nodeScript, place, `idle-${i}`], { stdio: ['pipe', 'pipe', 'inherit'] }));
    nodes.push(node);
    addresses.push(await node.next());
  }
  return { nodes, addresses };
}

async function stopNodes(nodes: Node[]): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      n.child.stdin!.write('stop\n');
      if (n.child.exitCode === null) await once(n.child, 'exit');
    }),
  );
}

/** Per second, summed over the connections of `of` (client names `switchyard <pid>`). */
async function measure(s: NatsServer, of: Node[]): Promise<{ inMsgs: number; inBytes: number; outMsgs: number; outBytes: number }> {
  await new Promise((r) => setTimeout(r, 2500)); // past the arrivals, handshakes and first probes
  const names = of.map((n) => `switchyard ${n.child.pid}`);
  const a = await connz(s);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = await connz(s);
  const sum = (k: keyof ConnStats): number => names.reduce((t, name) => t + (b.get(name)![k] as number) - (a.get(name)![k] as number), 0) / seconds / of.length;
  return { inMsgs: sum('in_msgs'), inBytes: sum('in_bytes'), outMsgs: sum('out_msgs'), outBytes: sum('out_bytes') };
}

function print(label: string, r: { inMsgs: number; inBytes: number; outMsgs: number; outBytes: number }): void {
  console.log(`${label.padEnd(44)} in ${r.inMsgs.toFixed(2).padStart(6)} msg/s ${r.inBytes.toFixed(0).padStart(6)} B/s   out ${r.outMsgs.toFixed(2).padStart(6)} msg/s ${r.outBytes.toFixed(0).padStart(6)} B/s`);
}

const server = await startNatsServer({ monitor: true });
try {
  console.log(`per node per second, over ${seconds} s (in: what it publishes; out: what it is sent)`);
  for (const n of sizes) {
    const { nodes, addresses } = await startNodes(`${server.url}/idle${n}`, n);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) await nodes[i]!.link(addresses[j]!);
    print(`mesh of ${n} (${(n * (n - 1)) / 2} links), mean node`, await measure(server, nodes));
    await stopNodes(nodes);
  }
  for (const n of sizes) {
    const { nodes, addresses } = await startNodes(`${server.url}/star${n}`, n + 1);
    for (let j = 1; j <= n; j++) await nodes[0]!.link(addresses[j]!);
    print(`hub linked to ${n} peers, the hub`, await measure(server, nodes.slice(0, 1)));
    await stopNodes(nodes);
  }
} finally {
  await server.stop();
}
