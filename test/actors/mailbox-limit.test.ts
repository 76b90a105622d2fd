/**
 * mailbox-limit.test.ts: the bounded mailbox in this process (issue 14): `full` at the limit,
 * whenLow() at half, and local senders refused with MailboxFullError while remote ones are
 * paused instead (test/bus/mailbox-flood.test.ts).
 */
import { expect } from 'chai';
import { EMPTY, firstValueFrom } from 'rxjs';
import { ActorSystem, defineActor, MailboxFullError } from '../../src/index.js';
import { Mailbox } from '../../src/actors/mailbox.js';
import { rejection } from '../setup/outcomes.js';

describe('limits: mailbox', function () {
  it('is full at its limit, and whenLow() runs once, on a microtask, when it has drained to half', async function () {
    const m = new Mailbox(4);
    let release!: () => void;
    m.post(() => new Promise<void>((r) => (release = r)));
    const ran: number[] = [];
    for (let i = 0; i < 4; i++) m.post(() => ran.push(i));
    expect(m.full).to.equal(true);
    let low = 0;
    m.whenLow(() => low++);
    release();
    // the drain runs after the held job settles; whenLow fires once on the way down
    await new Promise((r) => setTimeout(r, 0));
    expect(ran).to.deep.equal([0, 1, 2, 3]);
    expect(m.full).to.equal(false);
    expect(low).to.equal(1);
    m.whenLow(() => low++);
    await Promise.resolve();
    expect(low, 'at once when already low').to.equal(2);
  });

  it('drop() (the actor stopped) lets every waiting sender go', async function () {
    const m = new Mailbox(2);
    m.post(() => new Promise<void>(() => {}));
    m.post(() => 1);
    m.post(() => 2);
    let low = 0;
    m.whenLow(() => low++);
    m.drop(new Error('stopped'));
    await Promise.resolve();
    expect(low).to.equal(1);
  });

  it('refuses a local tell, ask or stream opening beyond the limit with MailboxFullError and loses nothing it took', async function () {
    const system = await ActorSystem.start({ name: `mbox-${process.pid}`, limits: { mailbox: 3 } });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const got: number[] = [];
    const ref = system.local(
      defineActor({
        init: () => ({}),
        receive: {
          put: (_s, i: number) => {
            got.push(i);
            return i === 0 ? gate : undefined;
          },
          get: () => got.length,
        },
        streams: { none: () => EMPTY },
      }),
      { name: 'slow' },
    );
    ref.tell('put', 0); // runs, and holds the actor
    for (let i = 1; i <= 3; i++) ref.tell('put', i);
    expect(system.mailboxLength('slow')).to.equal(3);
    let thrown: unknown;
    try {
      ref.tell('put', 4);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).to.be.instanceOf(MailboxFullError);
    expect((thrown as MailboxFullError).code).to.equal('ERR_MAILBOX_FULL');
    expect((thrown as MailboxFullError).limit).to.equal(3);
    const askErr = await rejection(ref.ask('get'));
    expect(askErr).to.be.instanceOf(MailboxFullError);
    // opening a stream goes through the mailbox too
    expect(await rejection(firstValueFrom(ref.stream('none')))).to.be.instanceOf(MailboxFullError);
    open();
    await new Promise((r) => setTimeout(r, 0)); // the held handler settles, the queue runs
    expect(await ref.ask('get')).to.equal(4);
    expect(got).to.deep.equal([0, 1, 2, 3]);
    await system.stop();
  });

  it('checks limits: a limit that is not a positive integer is a RangeError naming it', async function () {
    let err: unknown;
    try {
      await ActorSystem.start({ limits: { mailbox: 0 } });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(RangeError);
    expect((err as Error).message).to.include('limits.mailbox');
  });
});
