/**
 * plain-read.test.ts: the unscanned read of small plain frames (EnvelopeReader.readPlain in
 * src/bus/envelope-frame.ts, with plain-decode.ts checking every bound itself) never accepts
 * what the scan-first decoder refuses, and reads what it accepts the same way. Frames are the
 * bus's own (sendEnvelope) corrupted at every position: each truncation, each byte replaced by
 * a value that changes the structure (lengths near their limits, containers, 0xc1), one byte
 * too many; and nesting right at and one past maxDepth.
 */
import { expect } from 'chai';
import { AddressBytes, EnvelopeReader, sendEnvelope } from '../../src/bus/envelope-frame.js';
import { decodeEnvelope, MsgType, type Envelope } from '../../src/bus/envelope.js';
import { ProtocolError } from '../../src/errors.js';
import type { Link } from '../../src/index.js';

const refs = { decodeRef: (node: string, actor: string) => ({ ref: `${node}/${actor}` }) };

function frameOf(env: Envelope, maxDepth = 100): Buffer {
  let out: Buffer | undefined;
  const link = {
    capabilities: { reliable: true, ordered: true, maxFrame: 1 << 20, crossHost: false },
    send: (f: Uint8Array) => ((out = Buffer.from(f)), true),
  } as unknown as Link;
  sendEnvelope(link, env, { maxDepth, peerMaxFrame: Infinity }, new AddressBytes());
  return out!;
}

type Outcome = { ok: Envelope } | { refused: string } | { error: ProtocolError };

function viaReader(frame: Buffer, maxDepth: number): Outcome {
  try {
    const env = new EnvelopeReader(refs, maxDepth).read(frame, 0, frame.length);
    return env.refused !== undefined ? { refused: env.refused } : { ok: env };
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(ProtocolError);
    return { error: err as ProtocolError };
  }
}

/** The scan-first decoder: the whole frame scanned, then msgpackr. */
function viaScan(frame: Buffer, maxDepth: number): { ok: Envelope } | { error: ProtocolError } {
  try {
    return { ok: decodeEnvelope(frame, refs, { maxDepth }) };
  } catch (err) {
    return { error: err as ProtocolError };
  }
}

function agree(frame: Buffer, maxDepth = 100): void {
  const got = viaReader(frame, maxDepth);
  const want = viaScan(frame, maxDepth);
  const hex = frame.toString('hex');
  if ('ok' in want) {
    expect(got, `the reader refused a frame the scan accepts: ${hex}`).to.have.property('ok');
    expect({ ...(got as { ok: Envelope }).ok, refused: undefined }, hex).to.deep.equal({ ...want.ok, refused: undefined });
  } else if ('ok' in got) {
    throw new Error(`the reader accepted a frame the scan refuses (${String(want.error)}): ${hex}`);
  }
}

const STRUCTURAL = [0x00, 0x7f, 0x80, 0x90, 0x91, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc4, 0xc5, 0xc6, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xd4, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xff];

const SAMPLES: Envelope[] = [
  { type: MsgType.tell, id: 0, to: 'node-a/bench', from: 'node-b', payload: ['sink', [7, Buffer.alloc(64, 0xab)]], hops: 0 },
  { type: MsgType.ask, id: 300, to: 'node-a/echo', from: 'node-b', payload: ['echo', ['héllo', -5, 1.5, null, true, [[], [1]]]], hops: 0 },
  { type: MsgType.tell, id: 0, to: 'node-a/x', from: 'node-c', payload: ['m', [70000, -40000, 'x'.repeat(40), Buffer.alloc(300, 1)]], hops: 3 },
];

describe('hostile: small plain frames read without the scan (envelope-frame.ts readPlain)', function () {
  it('every truncation, every structural byte at every position, one byte too many: never accepts what the scan refuses, reads the rest the same', function () {
    let cases = 0;
    for (const env of SAMPLES) {
      const frame = frameOf(env);
      agree(frame);
      expect(viaReader(frame, 100), 'the intact frame reads').to.have.property('ok');
      for (let n = 0; n < frame.length; n++, cases++) agree(frame.subarray(0, n));
      agree(Buffer.concat([frame, Buffer.of(0xc0)]));
      for (let i = 0; i < frame.length; i++) {
        for (const b of STRUCTURAL) {
          const bad = Buffer.from(frame);
          bad[i] = b;
          agree(bad);
          cases++;
        }
      }
    }
    expect(cases).to.be.above(5000);
  });

  it('nesting: arrays exactly maxDepth deep (the envelope counted) read; one level more is refused as the scan refuses it', function () {
    for (const maxDepth of [3, 5, 10]) {
      // the envelope is level 1, the payload [m, args] 2, args 3: nest what is left inside args
      const nested = (levels: number): unknown => {
        let v: unknown = 1;
        for (let i = 0; i < levels; i++) v = [v];
        return v;
      };
      const within = frameOf({ type: MsgType.tell, id: 0, to: 'a/b', from: 'c', payload: nested(maxDepth - 1), hops: 0 }, maxDepth);
      expect(viaReader(within, maxDepth), `maxDepth ${maxDepth}`).to.have.property('ok');
      agree(within, maxDepth);
      const beyond = frameOf({ type: MsgType.tell, id: 0, to: 'a/b', from: 'c', payload: nested(maxDepth), hops: 0 }, maxDepth + 1);
      const got = viaReader(beyond, maxDepth);
      expect(got, `maxDepth ${maxDepth}, one level more`).to.have.property('error');
      expect(String((got as { error: Error }).error)).to.match(/nesting deeper than/);
      // empty arrays are no level (as the scan counts them)
      const empty = frameOf({ type: MsgType.tell, id: 0, to: 'a/b', from: 'c', payload: [nested(maxDepth - 2), []], hops: 0 }, maxDepth);
      agree(empty, maxDepth);
    }
  });
});
