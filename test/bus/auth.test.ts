/**
 * auth.test.ts: issue 14 Deliver 5, the shared secret in the bus handshake (PROTOCOL.md B.4).
 * A server system (this process) with a secret listens; clients are real child processes
 * (bus-peer, the secret in their environment) and in-process systems over real sockets. Per
 * transport (unix, tcp, udp): the right secret works both ways, a wrong or missing one fails
 * that client with AuthError while a good client on the same listener carries on, and the
 * server reports each refusal. Then: a captured handshake replayed on a new connection is
 * refused, a version 1 peer is refused with ERR_VERSION, and a system will not listen off
 * loopback without a secret unless told `insecure: true`.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { ActorSystem, AuthError, connect, defineActor, InsecureListenError, listen, type Link, type RemoteSystem, type SystemListener } from '../../src/index.js';
import { decodeEnvelope, encodeEnvelope, MsgType } from '../../src/bus/envelope.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { rejection } from '../setup/outcomes.js';
import { makeTempDir } from '../setup/tmp.js';
import { HostilePeer } from './hostile-peer.js';
import { BUS_PEER, exitOf } from './peers.js';

const echo = defineActor({
  init: () => ({}),
  receive: { echo: (_s, x: unknown) => x, pid: () => process.pid },
});

let seq = 0;
const name = (prefix: string): string => `${prefix}-${process.pid}-${++seq}`;
const SECRET = randomBytes(32).toString('base64');

interface Server {
  system: ActorSystem;
  listener: SystemListener;
  refusals: unknown[];
  stop(): Promise<void>;
}

async function server(scheme: string, secret: string | undefined = SECRET): Promise<Server> {
  const refusals: unknown[] = [];
  const system = await ActorSystem.start({ name: name('auth-server'), ...(secret ? { secret } : {}), onError: (err) => refusals.push(err) });
  system.local(echo, { name: 'echo' });
  const listener = await system.listen(privateAddress(scheme, makeTempDir(), 'auth'));
  return {
    system,
    listener,
    refusals,
    stop: async () => {
      await listener.close();
      await system.stop();
    },
  };
}

const children = new Set<ChildProcess>();

/** Resolves once `srv` has reported a refusal with AuthError (the server side ends a moment after the client's). */
async function refusalReported(srv: Server): Promise<void> {
  const until = Date.now() + 15_000;
  while (!srv.refusals.some((e) => e instanceof AuthError && e.code === 'ERR_AUTH')) {
    if (Date.now() > until) throw new Error(`no AuthError reported by the server; got ${srv.refusals.map(String).join('; ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A bus-peer child connected to `srv` with `secret` in its environment; its remote as the server sees it. */
async function childClient(srv: Server, secret: string | undefined, quiet = false): Promise<{ node: string; pid: number; remote: Promise<RemoteSystem>; proc: ChildProcess }> {
  const node = name('auth-client');
  const remote = firstValueFrom(srv.system.connections$.pipe(filter((r) => r.node === node), timeout(15_000)));
  remote.catch(() => {});
  const env = { ...process.env };
  delete env.BUS_PEER_SECRET;
  if (secret !== undefined) env.BUS_PEER_SECRET = secret;
  const proc = spawn(process.execPath, [BUS_PEER, 'connect', srv.listener.address, node, '{}'], { stdio: ['pipe', 'pipe', quiet ? 'ignore' : 'inherit'], env });
  children.add(proc);
  return { node, pid: proc.pid!, remote, proc };
}

async function reapChildren(): Promise<void> {
  await Promise.all(
    [...children].map(async (c) => {
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exitOf(c);
      clearTimeout(t);
    }),
  );
  children.clear();
}

/** An in-process client system; stopped by the caller. */
function client(secret?: string): Promise<ActorSystem> {
  return ActorSystem.start({ name: name('auth-inproc'), ...(secret ? { secret } : {}), onError: () => {} });
}

for (const scheme of ['unix', 'tcp', 'udp']) {
  describe(`auth: a shared secret in the handshake (${scheme})`, function () {
    this.timeout(60_000);
    let srv: Server;

    beforeEach(async function () {
      srv = await server(scheme);
    });

    afterEach(async function () {
      await srv?.stop();
      await reapChildren();
    });

    it('the right secret works both ways: the child calls us and we call the child', async function () {
      const c = await childClient(srv, SECRET);
      const remote = await c.remote;
      expect(await remote.ref('echo').ask('pid')).to.equal(c.pid);
      const me = await client(SECRET);
      try {
        const r = await me.connect(srv.listener.address);
        expect(await r.ref('echo').ask('echo', 'authenticated')).to.equal('authenticated');
      } finally {
        await me.stop();
      }
      expect(srv.refusals).to.deep.equal([]);
    });

    it('a wrong secret is refused with AuthError (ERR_AUTH) while a good client on the same listener keeps working', async function () {
      const good = await childClient(srv, SECRET);
      const goodRemote = await good.remote;
      const bad = await client(randomBytes(32).toString('base64'));
      try {
        const err = await rejection(bad.connect(srv.listener.address));
        expect(err, String(err)).to.be.instanceOf(AuthError);
        expect((err as AuthError).code).to.equal('ERR_AUTH');
        expect(err.message).to.not.include(SECRET);
      } finally {
        await bad.stop();
      }
      // a wrong secret from a child process, too: it exits (its connect failed), the server stays up
      const badChild = await childClient(srv, randomBytes(32).toString('hex'), true); // its failed connect() ends it with a stack on stderr
      await exitOf(badChild.proc);
      expect(await goodRemote.ref('echo').ask('pid')).to.equal(good.pid);
      expect(srv.system.remotes.map((r) => r.node)).to.deep.equal([good.node]);
      await refusalReported(srv);
    });

    it('a missing secret is refused with AuthError on the client, and reported on the server', async function () {
      const none = await client();
      try {
        const err = await rejection(none.connect(srv.listener.address));
        expect(err, String(err)).to.be.instanceOf(AuthError);
        expect((err as AuthError).code).to.equal('ERR_AUTH');
      } finally {
        await none.stop();
      }
      await refusalReported(srv);
      expect(srv.system.remotes).to.deep.equal([]);
    });
  });
}

describe('auth: handshakes that must fail (unix)', function () {
  this.timeout(60_000);
  let srv: Server;
  afterEach(async function () {
    await srv?.stop();
    await reapChildren();
  });

  it("a client with a secret refuses a server without one (it cannot prove it holds the secret)", async function () {
    srv = await server('unix', '');
    const me = await client(SECRET);
    try {
      const err = await rejection(me.connect(srv.listener.address));
      expect(err, String(err)).to.be.instanceOf(AuthError);
    } finally {
      await me.stop();
    }
  });

  it('a peer written from PROTOCOL.md B.4 alone (its own HMAC over the listed bytes) authenticates, checks the server\'s proof, and is served', async function () {
    srv = await server('unix');
    const peer = await HostilePeer.start(srv.listener.address, name('doc-peer'), 'v2', SECRET);
    try {
      await peer.waitFor((l) => typeof l === 'object' && l !== null && 'serverProof' in l, "the server's proof");
      expect(peer.lines.find((l) => typeof l === 'object' && l !== null && 'serverProof' in l)).to.deep.equal({ serverProof: true });
      peer.send({ send: [MsgType.ask, 1, `${srv.system.node}/echo`, peer.node, ['echo', ['by the book']]] });
      const answer = await peer.envelope((e) => e.id === 1 && e.type === MsgType.reply, 'the reply');
      expect(answer.payload).to.equal('by the book');
    } finally {
      await peer.stop();
    }
    // the same peer with a wrong secret is refused
    const wrong = await HostilePeer.start(srv.listener.address, name('doc-peer-wrong'), 'v2', randomBytes(24).toString('hex'));
    try {
      const bye = await wrong.envelope((e) => e.type === MsgType.bye, 'a bye');
      expect((bye.payload as { code: string }).code).to.equal('ERR_AUTH');
      expect(wrong.seen.some((e) => e.type === MsgType.auth), 'no server proof for a wrong client proof').to.equal(false);
    } finally {
      await wrong.stop();
    }
  });

  it("a client refuses a server whose proof is wrong (an impostor that takes any client's proof): AuthError, and it sends nothing more", async function () {
    const impostorNode = name('impostor');
    const fromClient: number[] = [];
    const fake = await listen(privateAddress('unix', makeTempDir(), 'impostor'), (link) => {
      link.send(encodeEnvelope({ type: MsgType.hello, id: 0, to: '', from: impostorNode, payload: { versions: [2], node: impostorNode, name: impostorNode, nonce: randomBytes(32), auth: true }, hops: 0 }));
      link.onFrame((f) => {
        const env = decodeEnvelope(f, { decodeRef: () => null });
        fromClient.push(env.type);
        if (env.type === MsgType.auth) link.send(encodeEnvelope({ type: MsgType.auth, id: 0, to: '', from: impostorNode, payload: { proof: randomBytes(32) }, hops: 0 }));
      });
    });
    const me = await client(SECRET);
    try {
      const err = await rejection(me.connect(fake.address.href));
      expect(err, String(err)).to.be.instanceOf(AuthError);
      expect(err.message).to.match(/failed authentication/);
      for (let i = 0; i < 500 && !fromClient.includes(MsgType.bye); i++) await new Promise((r) => setTimeout(r, 10)); // the bye is on its way
      expect(fromClient.filter((t) => t !== MsgType.ping && t !== MsgType.pong), 'hello, proof, bye').to.deep.equal([MsgType.hello, MsgType.auth, MsgType.bye]);
    } finally {
      await me.stop();
      await fake.close();
    }
  });

  it('a version 1 peer (no nonce, no proof) is refused with ERR_VERSION by a server that requires a secret', async function () {
    srv = await server('unix');
    const old = await HostilePeer.start(srv.listener.address, name('v1'));
    const bye = await old.envelope((e) => e.type === MsgType.bye, 'a bye');
    expect((bye.payload as { code: string }).code).to.equal('ERR_VERSION');
    expect((bye.payload as { message: string }).message).to.match(/version 2/);
    await old.stop();
  });

  it("a client's captured hello and proof, replayed on a new connection, are refused (the server's nonce is fresh)", async function () {
    srv = await server('unix');
    // a relay between a genuine client and the server records what the client sends
    const recorded: Buffer[] = [];
    let upstream: Promise<Link> | undefined;
    const relay = await listen(privateAddress('unix', makeTempDir(), 'relay'), (down) => {
      upstream = connect(srv.listener.address);
      const pending: Buffer[] = [];
      let up: Link | undefined;
      down.onFrame((f) => {
        const copy = Buffer.from(f);
        recorded.push(copy);
        if (up) up.send(copy);
        else pending.push(copy);
      });
      void upstream.then((u) => {
        up = u;
        u.onFrame((f) => down.send(Buffer.from(f)));
        for (const f of pending) u.send(f);
        void u.closed.then(() => down.close());
        void down.closed.then(() => u.close());
      });
    });
    try {
      const genuine = await childClient({ ...srv, listener: { address: relay.address.href, close: async () => {} } }, SECRET);
      const remote = await genuine.remote;
      expect(await remote.ref('echo').ask('pid'), 'the relayed client authenticated').to.equal(genuine.pid);
      const types = recorded.map((f) => decodeEnvelope(f, { decodeRef: () => null }).type);
      expect(types.slice(0, 2), 'hello, then auth').to.deep.equal([MsgType.hello, MsgType.auth]);
      // the replay: the same hello (same node, same nonce) and the same proof, on a new connection
      const replay = await connect(srv.listener.address);
      const seen: { type: number; payload: unknown }[] = [];
      replay.onFrame((f) => {
        const env = decodeEnvelope(f, { decodeRef: () => null });
        seen.push({ type: env.type, payload: env.payload });
      });
      // the genuine client's node is connected: replay under it and the server would say
      // ERR_DUPLICATE_NODE before looking at the proof, so end that connection first
      await remote.close();
      await exitOf(genuine.proc);
      replay.send(recorded[0]!);
      replay.send(recorded[1]!);
      const closed = await replay.closed;
      expect(closed.kind).to.not.equal('closed');
      const bye = seen.find((e) => e.type === MsgType.bye);
      expect(bye, JSON.stringify(seen)).to.not.equal(undefined);
      expect((bye!.payload as { code: string }).code).to.equal('ERR_AUTH');
      expect(seen.some((e) => e.type === MsgType.auth), 'the server proved nothing to the replayer').to.equal(false);
      await refusalReported(srv);
    } finally {
      await relay.close();
      await (await upstream)?.close();
    }
  });
});

describe('auth: listening off loopback', function () {
  this.timeout(30_000);

  it('a secret shorter than 16 bytes is refused when the system starts (RangeError naming the rule)', async function () {
    const err = await rejection(ActorSystem.start({ name: name('short'), secret: 'too-short' }));
    expect(err).to.be.instanceOf(RangeError);
    expect(err.message).to.match(/at least 16 bytes/);
  });

  it('tcp and udp on 0.0.0.0 without a secret throw InsecureListenError (ERR_INSECURE) before binding; insecure: true or a secret allows it', async function () {
    const open = await ActorSystem.start({ name: name('exposed'), onError: () => {} });
    const closed = await ActorSystem.start({ name: name('exposed-secret'), secret: SECRET, onError: () => {} });
    try {
      for (const address of ['tcp://0.0.0.0:0', 'udp://0.0.0.0:0', 'tcp://[::]:0']) {
        const err = await rejection(open.listen(address));
        expect(err, String(err)).to.be.instanceOf(InsecureListenError);
        expect((err as InsecureListenError).code).to.equal('ERR_INSECURE');
      }
      const l1 = await open.listen('tcp://0.0.0.0:0', { insecure: true });
      await l1.close();
      const l2 = await closed.listen('tcp://0.0.0.0:0');
      await l2.close();
      // loopback needs neither
      const l3 = await open.listen('tcp://127.0.0.1:0');
      await l3.close();
      const l4 = await open.listen('tcp://[::1]:0').catch((e: Error) => e);
      expect(l4, 'loopback IPv6 is not exposed').to.not.be.instanceOf(InsecureListenError);
      if (!(l4 instanceof Error)) await l4.close();
    } finally {
      await open.stop();
      await closed.stop();
    }
  });
});
