/**
 * serial.test.ts: owns the unit tests of src/transports/datagram/serial.ts, the one
 * serial-number unwrap behind dseq, credit and fragment seq: exact around 0, around each
 * multiple of 2^32, and at the +-2^31 edge, against a plain modular formulation.
 */
import { expect } from 'chai';
import { U32, unwrapSerial } from '../../src/transports/datagram/serial.js';

/** The long-hand reference: forward distance mod 2^32, read as negative from 2^31 on. */
function reference(wire: number, ref: number): number {
  let delta = (((wire - ref) % U32) + U32) % U32;
  if (delta >= U32 / 2) delta -= U32;
  return ref + delta;
}

describe('serial-number unwrap', function () {
  it('maps a wire u32 to the nearest unwrapped number, across the wrap, both ways', function () {
    expect(unwrapSerial(5, 3)).to.equal(5);
    expect(unwrapSerial(0, U32 - 2)).to.equal(U32); // forward across the wrap
    expect(unwrapSerial(U32 - 1, U32 + 1)).to.equal(U32 - 1); // backward across it
    expect(unwrapSerial(1, 3 * U32 + 5)).to.equal(3 * U32 + 1);
    expect(unwrapSerial((2 ** 31 - 1) >>> 0, 0)).to.equal(2 ** 31 - 1); // the farthest ahead
    expect(unwrapSerial(2 ** 31, U32)).to.equal(U32 - 2 ** 31); // the farthest behind
  });

  it('agrees with the long-hand modular formulation near every edge', function () {
    const refs = [0, 1, 2 ** 31 - 1, 2 ** 31, U32 - 1, U32, U32 + 1, 7 * U32 + 12345, 2 ** 40 + 3];
    const offsets = [0, 1, -1, 2, -2, 1000, -1000, 2 ** 31 - 1, -(2 ** 31), 2 ** 30, -(2 ** 30)];
    for (const ref of refs) {
      for (const off of offsets) {
        if (ref + off < 0) continue;
        const wire = (ref + off) % U32;
        expect(unwrapSerial(wire, ref), `wire ${wire} ref ${ref}`).to.equal(reference(wire, ref));
        expect(unwrapSerial(wire, ref), `wire ${wire} ref ${ref}`).to.equal(ref + off);
      }
    }
  });
});
