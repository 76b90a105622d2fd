/**
 * soak.test.ts: the soak (benchmarks/soak/soak.ts, `npm run soak`) run for real as a child
 * process, as `npm run soak` runs it: a short run over three transports with SIGKILLs keeps
 * every promise and prints its table; a run in which one acknowledged tell is dropped (the
 * test-only SWITCHYARD_SOAK_INJECT_LOSS, read by the soak's child actor) must say so and
 * exit 1; a usage mistake exits 2 before anything runs.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SOAK = fileURLToPath(new URL('../../benchmarks/soak/soak.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function soak(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', SOAK, ...args], { env: { ...process.env, ...env }, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(new Error(`soak ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`));
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

/** The table row of `transport` as numbers by column name. */
function row(stdout: string, transport: string): Record<string, string> {
  const lines = stdout.split('\n');
  const head = lines.find((l) => l.includes('│ transport'));
  const line = lines.find((l) => new RegExp(`^│ ${transport}\\s+│`).test(l));
  expect(head, 'table header').to.be.a('string');
  expect(line, `table row for ${transport}\n${stdout}`).to.be.a('string');
  const cells = (l: string): string[] => l.split('│').slice(1, -1).map((c) => c.trim());
  const names = cells(head!);
  const values = cells(line!);
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}

describe('soak', function () {
  this.timeout(180_000);

  it('8 s over unix, shm and msgq with SIGKILLs: exit 0, a table, nothing lost or left behind', async function () {
    const run = await soak(['--seconds', '8', '--transports', 'unix,shm,msgq', '--kill-every-ms', '1500', '--sample-every', '2']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(run.stdout).to.match(/soak: PASS: every promise kept; growth not judged on a run under 30 s/);
    expect(run.stdout).to.include('nothing of this run left in ipcs -q, /dev/shm or its temp dir');
    expect(run.stdout).to.match(/checkpoint warm-up \(25%\): parent \d/);
    expect(run.stdout).to.match(/checkpoint end: parent \d/);
    expect(run.stdout, 'a resource line').to.match(/^\[\s*\d+s\] parent [\d.]+MB\/\d+t\/\d+fd \| unix /m);
    let kills = 0;
    for (const t of ['unix', 'shm', 'msgq']) {
      const r = row(run.stdout, t);
      expect(r.reliable, t).to.equal('yes');
      expect(Number(r.lost), `${t} lost`).to.equal(0);
      expect(Number(r.broken), `${t} broken`).to.equal(0);
      expect(Number(r.received), `${t} received`).to.be.greaterThan(100);
      // what was sent is received, in doubt (tells to a killed child) or an ask cut by a kill
      expect(Number(r.sent), `${t}: sent = received + in doubt + lost + asks gone`).to.equal(Number(r.received) + Number(r['in doubt']) + Number(r.lost) + Number(r['asks gone']));
      kills += Number(r.kills);
    }
    expect(kills, 'children SIGKILLed during the run').to.be.greaterThan(0);
  });

  it('one acknowledged tell dropped: the soak names the loss and exits 1', async function () {
    const run = await soak(['--seconds', '5', '--transports', 'unix,tcp', '--kill-every-ms', '0'], { SWITCHYARD_SOAK_INJECT_LOSS: '10' });
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(1);
    expect(run.stdout).to.match(/soak: FAIL/);
    for (const t of ['unix', 'tcp']) {
      expect(run.stdout).to.match(new RegExp(`- ${t}: 1 acknowledged tell\\(s\\) lost \\(first: 9\\)`));
      expect(Number(row(run.stdout, t).lost), `${t} lost`).to.equal(1);
    }
    expect(run.stdout).to.include('nothing of this run left in ipcs -q, /dev/shm or its temp dir');
  });

  it('a usage mistake exits 2 before anything runs', async function () {
    const run = await soak(['--seconds', 'soon']);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.include('--seconds takes a whole number from 4 to 31536000, got "soon"');
    expect(run.stdout).to.equal('');
  });
});
