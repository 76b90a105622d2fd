/**
 * datagram-claim.test.ts: owns the tests of claim()/commit() on the datagram links (msgq and
 * udp, datagram-carrier.ts under LinkCore): a frame written in place, in the datagram that
 * goes on the wire, arrives byte-exact; a claim larger than one piece is null and send() then
 * fragments as before; commit without a claim, or with a bad length, is a typed error and
 * leaves the link working. Both ends live in this process (a listener and a client).
 */
import { expect } from 'chai';
import { connect, FrameTooLargeError, listen, TransportError, type Link, type Listener } from '../../src/index.js';
import { DATA_PAYLOAD_OFFSET } from '../../src/transports/datagram/datagram-wire.js';
import { msgqLimits } from '../../src/transports/datagram/msgq.js';
import { expectFrames } from '../setup/frames.js';
import { thrown } from '../setup/outcomes.js';
import { prng, randomBytes } from '../setup/random.js';
import { withTimeout } from '../setup/timing.js';

interface Case {
  scheme: string;
  address: string;
  /** Payload bytes in one DATA datagram of a link made from `address`. */
  pieceSize: () => number;
}

const UDP_DATAGRAM = 2048;
const cases: Case[] = [
  { scheme: 'msgq', address: 'msgq://0', pieceSize: () => msgqLimits().msgmax - DATA_PAYLOAD_OFFSET },
  // An explicit datagram size, so the piece size does not hang on udp's loopback default.
  { scheme: 'udp', address: `udp://127.0.0.1:0?datagram=${UDP_DATAGRAM}`, pieceSize: () => UDP_DATAGRAM - DATA_PAYLOAD_OFFSET },
];

/** Frames the server side receives, copied (a frame is valid during its callback only). */
function collect(link: Link): { frames: Buffer[]; until(n: number): Promise<void> } {
  const frames: Buffer[] = [];
  link.onFrame((f) => frames.push(Buffer.from(f)));
  return {
    frames,
    until: (n) =>
      withTimeout(
        (async () => {
          while (frames.length < n) await new Promise((r) => setTimeout(r, 5));
        })(),
        10_000,
        `${n} frames`,
      ),
  };
}

/** Writes `frame` in place through claim()/commit(), claiming `claimBytes` (>= its length). */
function commitInPlace(link: Link, frame: Buffer, claimBytes = frame.length): boolean {
  const view = link.claim!(claimBytes);
  expect(view, `claim(${claimBytes})`).to.not.equal(null);
  expect(view!.length).to.equal(claimBytes);
  view!.set(frame);
  return link.commit!(frame.length);
}

for (const c of cases) {
  describe(`datagram claim/commit: ${c.scheme}`, function () {
    let listener: Listener;
    let client: Link;
    let server: Link;

    beforeEach(async function () {
      let accepted!: (l: Link) => void;
      const got = new Promise<Link>((r) => (accepted = r));
      listener = await listen(c.address, (l) => accepted(l));
      client = await connect(listener.address);
      server = await withTimeout(got, 10_000, 'accepted');
    });

    afterEach(async function () {
      await client.close();
      await server.close();
      await listener.close();
    });

    it('has claim and commit', function () {
      expect(client.claim).to.be.a('function');
      expect(client.commit).to.be.a('function');
    });

    it('delivers frames written in place byte-exact: 0 B, 1 B, 64 B, a whole piece, and a shorter commit than claimed', async function () {
      const rand = prng(11);
      const piece = c.pieceSize();
      const frames = [0, 1, 64, piece, 700].map((n) => randomBytes(rand, n));
      const rx = collect(server);
      for (let i = 0; i < 4; i++) commitInPlace(client, frames[i]!);
      commitInPlace(client, frames[4]!, 1000); // claimed 1000, wrote 700
      await rx.until(frames.length);
      // udp may reorder; on loopback under credit it does not, and msgq is ordered.
      expectFrames(rx.frames, frames, c.scheme);
      expect(client.stats!.sent, 'committed frames count as sent').to.equal(frames.length);
    });

    it('interleaves committed and sent frames in order', async function () {
      const rand = prng(12);
      const frames = Array.from({ length: 40 }, (_, i) => randomBytes(rand, 1 + ((i * 97) % 1500)));
      const rx = collect(server);
      frames.forEach((f, i) => (i % 2 === 0 ? commitInPlace(client, f) : client.send(f)));
      await rx.until(frames.length);
      expectFrames(rx.frames, frames, c.scheme);
    });

    it('returns null for a claim larger than one piece; send() then fragments it as before', async function () {
      const piece = c.pieceSize();
      expect(client.claim!(piece + 1), 'one byte more than a piece').to.equal(null);
      expect(client.claim!(3 * piece), 'three pieces').to.equal(null);
      const big = randomBytes(prng(13), 3 * piece + 5);
      const rx = collect(server);
      client.send(big); // no claim is left open by a null claim
      const small = randomBytes(prng(14), 10);
      commitInPlace(client, small);
      await rx.until(2);
      expectFrames(rx.frames, [big, small], c.scheme);
    });

    it('commit without a claim is ERR_NO_CLAIM, a bad length a RangeError, and the claim stays usable', async function () {
      const noClaim = thrown(() => client.commit!(1));
      expect(noClaim).to.be.instanceOf(TransportError);
      expect((noClaim as TransportError).code).to.equal('ERR_NO_CLAIM');

      const view = client.claim!(16)!;
      expect(view).to.not.equal(null);
      for (const bad of [17, -1, 1.5, Number.NaN]) {
        expect(thrown(() => client.commit!(bad)), `commit(${bad})`).to.be.instanceOf(RangeError);
      }
      // While a claim is open, nothing else may be sent or claimed.
      const busy = thrown(() => client.send(Buffer.from('x')));
      expect((busy as TransportError).code).to.equal('ERR_CLAIM_OPEN');
      expect((thrown(() => client.claim!(1)) as TransportError).code).to.equal('ERR_CLAIM_OPEN');

      view.set(Buffer.from('0123456789abcdef'));
      const rx = collect(server);
      client.commit!(16);
      expect((thrown(() => client.commit!(16)) as TransportError).code, 'a second commit').to.equal('ERR_NO_CLAIM');
      await rx.until(1);
      expectFrames(rx.frames, [Buffer.from('0123456789abcdef')], c.scheme);
      expect(thrown(() => client.claim!(client.capabilities.maxFrame + 1))).to.be.instanceOf(FrameTooLargeError);
    });

    it('a claim on a closed link is ERR_LINK_CLOSED', async function () {
      server.onFrame(() => {}); // a reading peer answers our BYE at once
      await client.close();
      const err = thrown(() => client.claim!(8));
      expect(err).to.be.instanceOf(TransportError);
      expect((err as TransportError).code).to.equal('ERR_LINK_CLOSED');
    });
  });
}
