/**
 * nats-loss-report.test.ts: frames a best-effort link loses are reported to the system's
 * onError (FramesLostError), not only counted in link.stats where bus users never look. The
 * peer is hand-made (a raw NATS client speaking §9 and the bus's hello), so which frame is
 * lost is ours to decide: its DATA with dseq 1 is never sent.
 */
import { expect } from 'chai';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { ActorSystem, FramesLostError } from '../../src/index.js';
import { encodeEnvelope, MsgType } from '../../src/bus/envelope.js';
import { DATA_HEADER_BYTES, KIND_DATA } from '../../src/transports/datagram/datagram-link.js';
import { encodePing, KIND_BYE } from '../../src/transports/datagram/datagram-wire.js';
import { Fragmenter } from '../../src/transports/datagram/fragment.js';
import { KIND_HELLO, KIND_WELCOME } from '../../src/transports/datagram/handshake-kinds.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { until } from '../setup/timing.js';

describe('nats: frames lost on a best-effort link reach onError', function () {
  this.timeout(30_000);
  let server: NatsServer;
  let raw: NatsConnection | undefined;

  before(async function () {
    server = await startNatsServer();
  });
  after(async function () {
    await raw?.close();
    await server?.stop();
  });

  it('a nats peer whose frame never arrives is reported once as FramesLostError (ERR_FRAMES_LOST) with the count; the connection stays open', async function () {
    const errors: unknown[] = [];
    const sys = await ActorSystem.start({ name: 'loss-b', onError: (err) => errors.push(err) });
    try {
      // timeout=10000: the hand-made peer pings rarely; silence must not end the link first.
      const l = await sys.listen(`${server.url}/lossy?name=b&timeout=10000&upgrade=0`);
      const base = new URL(l.address).pathname.slice(1).replace(/\//g, '.');
      raw = await natsConnect({ servers: `127.0.0.1:${server.port}` });
      const id = 'cd'.repeat(16);
      const hello = Buffer.alloc(18 + 32);
      hello[0] = KIND_HELLO;
      hello[1] = 2;
      hello.writeUInt32BE(64, 2); // window
      hello.writeUInt32BE(65536, 6); // datagram
      hello.writeUInt32BE(5000, 10); // heartbeatMs: ours, rarely
      hello.writeUInt32BE(10000, 14); // timeoutMs
      hello.write(id, 18, 'latin1');
      const downs: Buffer[] = [];
      raw.subscribe(`${base}.${id}.down`, { callback: (_e, m) => void downs.push(Buffer.from(m.data)) });
      const welcome = await raw.request(`${base}.hello`, hello, { timeout: 2_000 });
      expect(welcome.data[0]).to.equal(KIND_WELCOME);
      const data = (dseq: number, frame: Buffer): Buffer => {
        const d = Buffer.alloc(DATA_HEADER_BYTES + frame.length);
        d[0] = KIND_DATA;
        d.writeUInt32BE(dseq, 1);
        frame.copy(d, DATA_HEADER_BYTES);
        return d;
      };
      // One fragmenter for the three frames, so they are frames 0, 1 and 2 of this link (§4);
      // each fits in one piece, so DATA dseq 0, 1 and 2 carry them.
      const fragmenter = new Fragmenter(65536 - DATA_HEADER_BYTES);
      const piece = (frame: Buffer): Buffer => fragmenter.split(frame)[0]!;
      const bus = (type: MsgType, payload: unknown, to = ''): Buffer => Buffer.from(encodeEnvelope({ type, id: 0, to, from: 'raw', payload, hops: 0 }));
      const hi = piece(bus(MsgType.hello, { versions: [1], node: 'raw', name: 'raw' }));
      const never = piece(bus(MsgType.tell, ['lost', []], 'loss-b/nobody'));
      const after = piece(bus(MsgType.tell, ['after', []], 'loss-b/nobody'));
      expect(never.length).to.be.above(0);
      raw.publish(`${base}.${id}.up`, data(0, hi));
      // Frame 1 (dseq 1) is never sent; frame 2 is; then a PING saying the next dseq is 3.
      raw.publish(`${base}.${id}.up`, data(2, after));
      raw.publish(`${base}.${id}.up`, encodePing(3, 64));
      await until('a FramesLostError on onError', 8_000, () => errors.some((e) => e instanceof FramesLostError));
      const lost = errors.filter((e): e is FramesLostError => e instanceof FramesLostError);
      expect(lost).to.have.length(1);
      expect(lost[0]!.code).to.equal('ERR_FRAMES_LOST');
      expect(lost[0]!.peer).to.equal('raw');
      expect(lost[0]!.lost).to.equal(1);
      expect(lost[0]!.total).to.equal(1);
      // Nothing more lost, nothing more reported; the link is still open (no BYE to the peer).
      await new Promise((r) => setTimeout(r, 1_500));
      expect(errors.filter((e) => e instanceof FramesLostError)).to.have.length(1);
      expect(downs.some((d) => d[0] === KIND_BYE), 'a BYE to the peer').to.equal(false);
    } finally {
      await sys.stop();
    }
  });
});
