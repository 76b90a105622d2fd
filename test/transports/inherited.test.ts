/**
 * inherited.test.ts: owns the tests of opening an end inherited from a parent
 * (core/inherited.ts), as pipe:, socketpair: and shm:?fds= use it: every fd named in `?fds=`
 * must be open and of the kind its slot expects, else a TransportError says which and why.
 *
 * Owns: every fd a test opens (closed in afterEach). No link is ever made: each address
 * here is refused before an fd is wrapped.
 */
import { expect } from 'chai';
import { closeSync } from 'node:fs';
import { connect } from '../../src/index.js';
import { native } from '../../src/native.js';
import { transportRejection as rejection } from '../setup/outcomes.js';

describe('inherited ends (?fds=)', function () {
  const fds: number[] = [];
  const open = (...made: number[]): number[] => {
    fds.push(...made);
    return made;
  };
  afterEach(function () {
    for (const fd of fds.splice(0)) closeSync(fd);
  });

  it('a bare scheme: is ERR_BAD_ADDRESS naming the ?fds= form, and shm: also its listener form', async function () {
    const pipe = await rejection(connect('pipe:'));
    expect(pipe.code).to.equal('ERR_BAD_ADDRESS');
    expect(pipe.message).to.include('pipe:?fds=3,4');
    const sp = await rejection(connect('socketpair:'));
    expect(sp.message).to.include('socketpair:?fds=3 ');
    const shm = await rejection(connect('shm:'));
    expect(shm.code).to.equal('ERR_BAD_ADDRESS');
    expect(shm.message).to.include('shm:?fds=3,4').and.to.include('shm://name');
  });

  it('the wrong number of fds is ERR_BAD_ADDRESS; where slots differ in kind, it says which is which', async function () {
    const pipe = await rejection(connect('pipe:?fds=3'));
    expect(pipe.code).to.equal('ERR_BAD_ADDRESS');
    expect(pipe.message).to.match(/: wants 2 fd number\(s\) in \?fds=$/); // both slots are pipes: nothing to tell apart
    const shm = await rejection(connect('shm:?fds=3,4,5'));
    expect(shm.code).to.equal('ERR_BAD_ADDRESS');
    expect(shm.message).to.include('(segment, socket)');
  });

  it('an fd that is not open is EBADF from fstat', async function () {
    // Far above any fd limit this process runs with, so it is never open.
    const err = await rejection(connect(`socketpair:?fds=${2 ** 20}`));
    expect(err.code).to.equal('EBADF');
    expect(err.syscall).to.equal('fstat');
  });

  it('an fd of the wrong kind is ERR_BAD_FD, naming the kind its slot wants', async function () {
    const [a, b] = open(...native.socketpair());
    const pipe = await rejection(connect(`pipe:?fds=${a},${b}`));
    expect(pipe.code).to.equal('ERR_BAD_FD');
    expect(pipe.message).to.include('is not a pipe');
    // shm: slot 1 is the segment (a regular file, memfd), slot 2 the liveness socket.
    const shm = await rejection(connect(`shm:?fds=${a},${b}`));
    expect(shm.code).to.equal('ERR_BAD_FD');
    expect(shm.message).to.include(`fd ${a}`).and.to.include('is not a shared-memory segment');
    const [r] = open(...native.pipe());
    const sp = await rejection(connect(`socketpair:?fds=${r}`));
    expect(sp.code).to.equal('ERR_BAD_FD');
    expect(sp.message).to.include('is not a socket');
  });
});
