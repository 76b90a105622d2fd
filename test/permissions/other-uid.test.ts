/**
 * other-uid.test.ts: on every local transport with an address (unix, fifo, shm://name, msgq)
 * a client running as another uid (nobody, through setpriv) is refused with a TransportError
 * EACCES that names the address, while a client of our own uid, linked before the attack,
 * keeps getting answers during and after it, and a new one of our uid can still link.
 *
 * The listener's directory is world-writable (1777, as /tmp): the attacker proves it can make
 * files there, so what refuses it is the mode of our own object, not the directory.
 * The clients are real processes running the library (`CLIENT` below): the attacker as uid
 * 65534, so the compiled library must be readable by that uid (the case says so if not).
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ActorSystem, defineActor } from '../../src/index.js';

const LIB = fileURLToPath(new URL('../../src/index.js', import.meta.url));
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

/**
 * A client: links to argv[2] (as uid argv[3] wants), prints one JSON line saying whether it
 * did, then answers each "ask" line on stdin with one JSON line; ends at stdin's end. As the
 * attacker it also says whether it could make a file in the listener's directory (argv[4]).
 */
const CLIENT = `
const [lib, address, probeDir] = process.argv.slice(1);
const { ActorSystem } = await import(lib);
const fs = await import('node:fs');
let dirWritable = null;
if (probeDir) {
  try { fs.writeFileSync(probeDir + '/made-by-' + process.getuid(), ''); dirWritable = true; } catch { dirWritable = false; }
}
const sys = await ActorSystem.start({ name: 'client-' + process.pid });
let remote;
try {
  remote = await sys.connect(address);
} catch (e) {
  console.log(JSON.stringify({ linked: false, uid: process.getuid(), dirWritable, name: e.name, code: e.code, message: e.message }));
  await sys.stop();
  process.exit(0);
}
console.log(JSON.stringify({ linked: true, uid: process.getuid(), dirWritable }));
let n = 0;
for await (const line of (await import('node:readline')).createInterface({ input: process.stdin })) {
  if (line !== 'ask') continue;
  try {
    console.log(JSON.stringify({ answer: await remote.ref('echo').ask('echo', ++n) }));
  } catch (e) {
    console.log(JSON.stringify({ error: String(e) }));
  }
}
await sys.stop();
`;

interface Line {
  linked?: boolean;
  uid?: number;
  dirWritable?: boolean | null;
  name?: string;
  code?: string;
  message?: string;
  answer?: number;
  error?: string;
}

/** Every client started, so a failed case still ends them (a live one would keep mocha running). */
const clients = new Set<Client>();

/** A client process and its JSON lines, one at a time. */
class Client {
  readonly proc: ChildProcess;
  private readonly lines: Line[] = [];
  private waiting: ((l: Line) => void) | undefined;
  private stderr = '';
  readonly exited: Promise<number | null>;

  constructor(address: string, asNobody: boolean, probeDir?: string) {
    const args = ['--input-type=module', '-e', CLIENT, LIB, address, ...(probeDir ? [probeDir] : [])];
    this.proc = asNobody ? spawn('setpriv', [...NOBODY, process.execPath, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }) : spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((r) => this.proc.once('exit', (code) => r(code)));
    clients.add(this);
    void this.exited.then(() => clients.delete(this));
    this.proc.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    createInterface({ input: this.proc.stdout! }).on('line', (text) => {
      const line = JSON.parse(text) as Line;
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(line);
      } else this.lines.push(line);
    });
  }

  next(what: string, ms = 20_000): Promise<Line> {
    const ready = this.lines.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: no line within ${ms} ms; stderr: ${this.stderr}`)), ms);
      this.waiting = (l) => {
        clearTimeout(timer);
        resolve(l);
      };
      void this.exited.then(() => setTimeout(() => reject(new Error(`${what}: the client exited; stderr: ${this.stderr}`)), 100));
    });
  }

  async ask(): Promise<Line> {
    this.proc.stdin!.write('ask\n');
    return this.next('an answer');
  }

  async end(): Promise<void> {
    this.proc.stdin!.end();
    if ((await this.exited) !== 0) throw new Error(`client exited ${String(this.proc.exitCode)}: ${this.stderr}`);
  }
}

const echo = defineActor({ init: () => ({}), receive: { echo: (_s, x: unknown) => x } });

describe('permissions: another uid is refused on every local transport with an address', function () {
  this.timeout(90_000);
  let dir: string;
  let system: ActorSystem;

  before(function () {
    const probe = spawnSync('setpriv', [...NOBODY, process.execPath, '--input-type=module', '-e', `await import(${JSON.stringify(LIB)})`], { encoding: 'utf8' });
    if (probe.status !== 0) throw new Error(`uid 65534 cannot load the library at ${LIB} (run the suite from a checkout every uid can read): ${probe.stderr}`);
  });

  beforeEach(async function () {
    // not under the run's 0700 temp dir: the attacker must reach the directory (see the header)
    dir = mkdtempSync('/tmp/switchyard-perm-');
    chmodSync(dir, 0o1777);
    system = await ActorSystem.start({ name: `perm-listener-${process.pid}` });
    system.local(echo, { name: 'echo' });
  });

  afterEach(async function () {
    for (const c of clients) c.proc.kill('SIGKILL');
    await Promise.all([...clients].map((c) => c.exited));
    await system.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const addresses: Record<string, (dir: string) => string> = {
    unix: (d) => `unix://${d}/app.sock`,
    fifo: (d) => `fifo://${d}/app`,
    shm: () => `shm://perm-${process.pid}-${Date.now()}`,
    msgq: () => 'msgq://0',
  };

  for (const [scheme, address] of Object.entries(addresses)) {
    it(`${scheme}: uid 65534 gets EACCES naming the address; our client is served throughout`, async function () {
      const listener = await system.listen(address(dir));
      const href = listener.address;
      const ours = new Client(href, false);
      expect(await ours.next('our client linking')).to.include({ linked: true });
      expect(await ours.ask()).to.deep.equal({ answer: 1 });

      const before = new Set(readdirSync(dir));
      const attacker = new Client(href, true, dir);
      const refused = await attacker.next('the attacker');
      await attacker.end();
      expect(refused.uid, 'the attacker ran as nobody').to.equal(65534);
      expect(refused.dirWritable, 'the attacker can write in the directory').to.equal(true);
      expect(refused.linked, `the attacker linked: ${JSON.stringify(refused)}`).to.equal(false);
      expect(refused.name).to.equal('TransportError');
      expect(refused.code).to.equal('EACCES');
      expect(refused.message, 'the error names the address or the object').to.match(/permission denied/i);
      // shm's refusal comes from shm_open of the record, and names the record
      const names = scheme === 'shm' ? [href, `/switchyard.${href.slice('shm://'.length)}`] : [href];
      expect(names.some((n) => refused.message!.includes(n)), `"${refused.message}" names one of ${names.join(', ')}`).to.equal(true);

      // still serving: the client linked before, and a new one of our uid
      expect(await ours.ask()).to.deep.equal({ answer: 2 });
      const another = new Client(href, false);
      expect(await another.next('a new client of our uid')).to.include({ linked: true });
      expect(await another.ask()).to.deep.equal({ answer: 1 });
      await another.end();
      await ours.end();

      // the attacker left nothing of ours behind, and made nothing but its probe file
      const after = readdirSync(dir).filter((n) => !before.has(n));
      expect(after, 'new names in the directory').to.deep.equal(['made-by-65534']);
      await listener.close();
    });
  }
});
