/**
 * expect-rejects.ts: asserts that opening a listener or link fails with a TransportError of a
 * given code. If it succeeds after all, what it opened is closed before the test fails, so a
 * wrong outcome never leaks an OS object into the next test.
 */
import { expect } from 'chai';
import { TransportError, type Link, type Listener } from '../../src/index.js';

export async function expectRejects(p: Promise<Listener | Link>, code: string): Promise<TransportError> {
  let value: Listener | Link;
  try {
    value = await p;
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(TransportError);
    expect((err as TransportError).code, (err as Error).message).to.equal(code);
    return err as TransportError;
  }
  await value.close();
  throw new Error(`expected a TransportError ${code}, but it succeeded`);
}
