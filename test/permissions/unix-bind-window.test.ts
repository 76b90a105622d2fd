/**
 * unix-bind-window.test.ts: a unix:// listener's socket is never reachable by another uid,
 * even under umask 000 and for the instant between bind() and any chmod: the socket is born
 * 0600. An attacker process of uid 65534 (setpriv) hammers connect() while we listen and
 * close again and again in a world-traversable directory; a 0666 socket beside ours proves
 * the attacker can reach that directory at all.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { listen } from '../../src/index.js';

const ATTACKER = `
const net = require('node:net');
const [target, control, ms] = process.argv.slice(1);
let hits = 0, controlHits = 0;
const until = Date.now() + Number(ms);
function one(path, done) {
  const s = net.createConnection({ path });
  s.on('connect', () => { done(true); s.destroy(); });
  s.on('error', () => done(false));
}
one(control, (ok) => { if (ok) controlHits++; });
(function loop() {
  if (Date.now() > until) return setTimeout(() => console.log(JSON.stringify({ hits, controlHits })), 50);
  let pending = 8;
  for (let i = 0; i < 8; i++) one(target, (ok) => { if (ok) hits++; if (--pending === 0) setImmediate(loop); });
})();
`;

describe('permissions: unix socket files', function () {
  let dir: string;

  beforeEach(function () {
    // Not under the run's 0700 temp dir: the attacker must be able to reach the directory.
    dir = mkdtempSync('/tmp/switchyard-perm-');
    chmodSync(dir, 0o755);
  });

  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('another uid never connects, even under umask 000, while we listen and close 40 times', async function () {
    const control = createServer((s) => s.destroy());
    const controlPath = join(dir, 'control.sock');
    await new Promise<void>((r) => control.listen(controlPath, r));
    chmodSync(controlPath, 0o666);
    const target = join(dir, 'app.sock');
    const attacker = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', ATTACKER, target, controlPath, '1500'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    attacker.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const exited = new Promise<number | null>((r) => attacker.once('exit', (code) => r(code)));
    const old = process.umask(0);
    try {
      for (let i = 0; i < 40; i++) {
        const l = await listen(`unix://${target}`, (link) => void link.close());
        expect(lstatSync(target).mode & 0o777, 'socket mode').to.equal(0o600);
        await new Promise((r) => setTimeout(r, 10));
        await l.close();
      }
    } finally {
      process.umask(old);
    }
    expect(await exited, 'attacker exit code').to.equal(0);
    await new Promise<void>((r) => control.close(() => r()));
    const { hits, controlHits } = JSON.parse(out) as { hits: number; controlHits: number };
    expect(controlHits, 'the attacker reached a 0666 socket in the same directory').to.equal(1);
    expect(hits, 'connections the attacker made to our socket').to.equal(0);
  });
});
