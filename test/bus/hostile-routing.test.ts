/**
 * hostile-routing.test.ts: issue 14 defect 6, routes hijacked and senders spoofed. A server
 * (this process) listens on a unix socket; a victim client (a bus-peer child) and attackers
 * (bus-hostile children writing envelopes by hand) connect to it. Each case is one attack from
 * PROTOCOL.md B.8's list of what a peer may not do, checked by what really reaches the actors
 * and the wire: no peer may call another client's actors through the server (forwarding is
 * off by default), speak as another node (forwarded `from` bound to one connection, a hello
 * claiming a connected node refused before anything it sends is served), answer for a node
 * it is not, or take over the route to a connected node with a ref.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { ActorSystem, defineActor, type RemoteSystem, type SystemListener } from '../../src/index.js';
import { MAX_LEARNED_ROUTES } from '../../src/bus/node.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { makeTempDir } from '../setup/tmp.js';
import { HostilePeer, type Seen } from './hostile-peer.js';
import { BUS_PEER, exitOf } from './peers.js';

const T = { tell: 1, ask: 2, reply: 3, error: 4, bye: 12 } as const;

const sink = defineActor({
  init: () => ({ notes: [] as unknown[], kept: [] as unknown[] }),
  receive: {
    note: (s, x: unknown) => {
      s.notes.push(x);
    },
    notes: (s) => s.notes,
    keep: (s, ...refs: unknown[]) => {
      s.kept.push(...refs);
      return refs.length;
    },
  },
});

const isAnswer = (id: number) => (e: Seen) => e.id === id && (e.type === T.reply || e.type === T.error);

describe('hostile: routing: who may speak for whom, and where requests go (unix)', function () {
  this.timeout(60_000);
  let system: ActorSystem;
  let listener: SystemListener;
  let address: string;
  const reports: { code: unknown; context: string }[] = [];
  const children = new Set<ChildProcess>();
  const hostiles = new Set<HostilePeer>();
  let seq = 0;
  const name = (prefix: string): string => `${prefix}-${process.pid}-${++seq}`;

  /** A well-behaved bus-peer child connected to the server as `node`. */
  async function victim(node = name('victim')): Promise<{ node: string; pid: number; remote: RemoteSystem }> {
    const remote = firstValueFrom(system.connections$.pipe(filter((r) => r.node === node), timeout(15_000)));
    const proc = spawn(process.execPath, [BUS_PEER, 'connect', address, node, '{}'], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.add(proc);
    return { node, pid: proc.pid!, remote: await remote };
  }

  async function attacker(node = name('mallory'), manual = false): Promise<HostilePeer> {
    // registered on the server's side too before a case starts (connections$ is hot: subscribe first)
    const registered = manual ? undefined : firstValueFrom(system.connections$.pipe(filter((r) => r.node === node), timeout(15_000)));
    registered?.catch(() => {});
    const h = await HostilePeer.start(address, node, manual);
    hostiles.add(h);
    if (!manual) {
      await h.envelope((e) => e.type === 0, "the server's hello");
      await registered;
    }
    return h;
  }

  async function notes(): Promise<unknown[]> {
    return (await system.ref('sink').ask('notes')) as unknown[];
  }

  before(async function () {
    system = await ActorSystem.start({ name: name('server'), onError: (err, context) => reports.push({ code: (err as { code?: unknown }).code, context }) });
    system.local(sink, { name: 'sink' });
    listener = await system.listen(privateAddress('unix', makeTempDir(), 'routing'));
    address = listener.address;
  });

  after(async function () {
    await Promise.all([...hostiles].map((h) => h.stop()));
    await listener?.close();
    await system?.stop();
    // a connected bus-peer exits when its connection ends
    await Promise.all([...children].map(async (c) => {
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exitOf(c);
      clearTimeout(t);
    }));
  });

  it("a client cannot call another client's actors through the server: ERR_FORWARD_REFUSED (forwarding is off by default)", async function () {
    const v = await victim();
    const m = await attacker();
    m.send({ send: [T.ask, 1, `${v.node}/echo`, m.node, ['pid', []]] });
    const answer = await m.envelope(isAnswer(1), 'an answer to ask 1');
    expect(answer.type, JSON.stringify(answer)).to.equal(T.error);
    expect((answer.payload as { code: string }).code).to.equal('ERR_FORWARD_REFUSED');
    // the refusal is that message's alone: the attacker's own connection and the victim carry on
    m.send({ send: [T.ask, 2, `${system.node}/sink`, m.node, ['keep', [1]]] });
    expect((await m.envelope(isAnswer(2), 'an answer to ask 2')).payload).to.equal(1);
    expect(await v.remote.ref('echo').ask('pid')).to.equal(v.pid);
    // an honest client handed a ref to the victim's actor gets the same typed refusal
    const other = await victim(name('other'));
    const r = (await other.remote.ref('echo').ask('askRef', system.ref(`${v.node}/echo`), 'pid')) as { ok: boolean; error?: { class: string; code: string } };
    expect(r.ok).to.equal(false);
    expect(r.error).to.include({ class: 'RemoteError', code: 'ERR_FORWARD_REFUSED' });
  });

  it('a ref naming a connected client, or the server itself, does not take over its route', async function () {
    const v = await victim();
    const m = await attacker();
    m.send({ send: [T.ask, 1, `${system.node}/sink`, m.node, ['keep', [{ $ref: `${v.node}/echo` }, { $ref: `${system.node}/sink` }]]] });
    expect((await m.envelope(isAnswer(1), 'an answer to keep')).payload).to.equal(2);
    // the server's requests to the victim still go to the victim, and to its own actors locally
    expect(await system.ref(`${v.node}/echo`).ask('pid')).to.equal(v.pid);
    expect(await system.ref(`${v.node}/echo`).ask('echo', 'to the victim')).to.equal('to the victim');
    expect(await system.ref('sink').ask('keep')).to.equal(0);
    expect(m.seen.filter((e) => e.type === T.ask), 'asks that reached the attacker').to.deep.equal([]);
  });

  it('a ref naming a client that connects later does not keep its route once that client connects', async function () {
    const m = await attacker();
    const late = name('late');
    m.send({ send: [T.ask, 1, `${system.node}/sink`, m.node, ['keep', [{ $ref: `${late}/echo` }]]] });
    await m.envelope(isAnswer(1), 'an answer to keep');
    const v = await victim(late);
    expect(await system.ref(`${late}/echo`).ask('pid')).to.equal(v.pid);
    expect(m.seen.filter((e) => e.type === T.ask)).to.deep.equal([]);
  });

  it('a forwarded tell or ask "from" a connected client (hops 1) is refused: ERR_BAD_ROUTE, nothing reaches the actor', async function () {
    const v = await victim();
    const m = await attacker();
    const tag = `spoofed-${seq}`;
    m.send(
      { send: [T.tell, 0, `${system.node}/sink`, v.node, ['note', [tag]], 1] },
      { send: [T.ask, 7, `${system.node}/sink`, v.node, ['note', [tag]], 1] },
      { send: [T.tell, 0, `${system.node}/sink`, m.node, ['note', [`${tag}-own`]]] },
      { send: [T.ask, 8, `${system.node}/sink`, m.node, ['notes', []]] },
    );
    const refused = await m.envelope(isAnswer(7), 'an answer to the spoofed ask');
    expect(refused.type, JSON.stringify(refused)).to.equal(T.error);
    expect((refused.payload as { code: string }).code).to.equal('ERR_BAD_ROUTE');
    // the attacker's own messages still work: the refusal fails the message, not the link
    const own = (await m.envelope(isAnswer(8), 'an answer to notes')).payload as unknown[];
    expect(own).to.include(`${tag}-own`);
    expect(own).to.not.include(tag);
    expect(await notes()).to.not.include(tag);
    expect(reports.some((r) => r.code === 'ERR_BAD_ROUTE'), JSON.stringify(reports)).to.equal(true);
    expect(await v.remote.ref('echo').ask('pid')).to.equal(v.pid);
  });

  it('a forwarded message "from" the server itself is refused', async function () {
    const m = await attacker();
    const tag = `self-${seq}`;
    m.send({ send: [T.tell, 0, `${system.node}/sink`, system.node, ['note', [tag]], 1] }, { send: [T.ask, 3, `${system.node}/sink`, system.node, ['notes', []], 2] });
    const refused = await m.envelope(isAnswer(3), 'an answer');
    expect((refused.payload as { code: string }).code).to.equal('ERR_BAD_ROUTE');
    expect(await notes()).to.not.include(tag);
  });

  it('a node behind one connection is bound to it: another connection cannot then speak for it', async function () {
    const m1 = await attacker();
    const m2 = await attacker();
    const ghost = name('ghost');
    m1.send({ send: [T.ask, 1, `${system.node}/sink`, ghost, ['note', ['first']], 1] });
    expect((await m1.envelope(isAnswer(1), 'an answer')).type).to.equal(T.reply);
    m2.send({ send: [T.ask, 1, `${system.node}/sink`, ghost, ['note', ['second']], 1] });
    expect(((await m2.envelope(isAnswer(1), 'an answer')).payload as { code: string }).code).to.equal('ERR_BAD_ROUTE');
  });

  it('one connection binds at most 1024 node ids (MAX_LEARNED_ROUTES): a flood of invented senders cannot grow the server without bound', async function () {
    const m = await attacker();
    const ghost = (i: number): string => `flood-${seq}-${i}`;
    m.send(...Array.from({ length: MAX_LEARNED_ROUTES }, (_, i) => ({ send: [T.tell, 0, `${system.node}/sink`, ghost(i), ['keep', []], 1] as [number, number, string, string, unknown, number] })));
    m.send({ send: [T.ask, 1, `${system.node}/sink`, ghost(0), ['keep', []], 1] }, { send: [T.ask, 2, `${system.node}/sink`, ghost(MAX_LEARNED_ROUTES), ['keep', []], 1] });
    expect((await m.envelope(isAnswer(1), 'an answer from a bound sender')).type).to.equal(T.reply);
    const over = await m.envelope(isAnswer(2), 'an answer past the cap');
    expect((over.payload as { code: string }).code).to.equal('ERR_BAD_ROUTE');
  });

  it("a hello claiming a connected client's node is refused before anything sent with it is served", async function () {
    const v = await victim();
    const m = await attacker(name('squatter'), true);
    const tag = `squat-${seq}`;
    // the hello and a tell "from" the victim in one write: one batch at the server
    m.send(
      { send: [0, 0, '', v.node, { versions: [1], node: v.node, name: v.node }] },
      { send: [T.tell, 0, `${system.node}/sink`, v.node, ['note', [tag]]] },
      { send: [T.ask, 1, `${system.node}/sink`, v.node, ['note', [tag]]] },
    );
    const bye = await m.envelope((e) => e.type === T.bye, 'a bye');
    expect((bye.payload as { code: string }).code).to.equal('ERR_DUPLICATE_NODE');
    expect(m.seen.filter(isAnswer(1))).to.deep.equal([]);
    expect(await notes()).to.not.include(tag);
    expect(await v.remote.ref('echo').ask('pid')).to.equal(v.pid);
  });

  it('an answer on the right connection "from" another node is ignored: only the asked node answers', async function () {
    const v = await victim();
    const m = await attacker();
    const asked = system.ref(`${m.node}/echo`).ask('echo', 'q');
    const ask = await m.envelope((e) => e.type === T.ask, "the server's ask");
    m.send(
      { send: [T.reply, ask.id, system.node, v.node, 'forged', 1] },
      { send: [T.reply, ask.id, system.node, m.node, 'genuine'] },
    );
    expect(await asked).to.equal('genuine');
  });
});

describe('hostile: routing through a relay (a server with forward: true)', function () {
  this.timeout(60_000);
  let hub: ActorSystem;
  let listener: SystemListener;
  const children = new Set<ChildProcess>();
  const hostiles = new Set<HostilePeer>();
  let seq = 0;
  const name = (prefix: string): string => `${prefix}-${process.pid}-r${++seq}`;

  async function client(node = name('client')): Promise<{ node: string; pid: number; remote: RemoteSystem }> {
    const remote = firstValueFrom(hub.connections$.pipe(filter((r) => r.node === node), timeout(15_000)));
    const proc = spawn(process.execPath, [BUS_PEER, 'connect', listener.address, node, '{}'], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.add(proc);
    return { node, pid: proc.pid!, remote: await remote };
  }

  before(async function () {
    hub = await ActorSystem.start({ name: name('hub'), forward: true, onError: () => {} });
    listener = await hub.listen(privateAddress('unix', makeTempDir(), 'relay'));
  });

  after(async function () {
    await Promise.all([...hostiles].map((h) => h.stop()));
    await listener?.close();
    await hub?.stop();
    await Promise.all([...children].map(async (c) => {
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exitOf(c);
      clearTimeout(t);
    }));
  });

  it("a victim's ask to another client goes to that client; replies forged 'from' it by a third client do not reach the victim", async function () {
    const victim = await client(name('victim'));
    const target = await client(name('target'));
    const mNode = name('mallory');
    const registered = firstValueFrom(hub.connections$.pipe(filter((r) => r.node === mNode), timeout(15_000)));
    const m = await HostilePeer.start(listener.address, mNode);
    hostiles.add(m);
    await registered;
    // the attacker names the target in a ref first: the target is connected, so nothing changes
    m.send({ send: [T.tell, 0, `${target.node}/echo`, m.node, ['echo', [{ $ref: `${target.node}/echo` }]]] });
    // the victim learns the route to the target from the hub's ref, and asks it through the hub
    const asked = victim.remote.ref('echo').ask('askRef', hub.ref(`${target.node}/echo`), 'slow', 1500) as Promise<{ ok: boolean; value?: unknown }>;
    const forge = (): void =>
      m.send(...Array.from({ length: 20 }, (_, i) => ({ send: [T.reply, i + 1, victim.node, target.node, 'forged', 1] as [number, number, string, string, unknown, number] })));
    for (const ms of [100, 400, 800]) setTimeout(forge, ms);
    expect(await asked).to.deep.equal({ ok: true, value: 1500 });
    // and the relay did relay: the answer came from the target process
    expect(await victim.remote.ref('echo').ask('askRef', hub.ref(`${target.node}/echo`), 'pid')).to.deep.equal({ ok: true, value: target.pid });
    expect(m.seen.filter((e) => e.type === T.ask)).to.deep.equal([]);
  });
});
