/**
 * raw-attacks.ts: one hostile connection per call, for each addressed transport, made by
 * hand below switchyard's own connect(): raw unix/tcp sockets, raw FIFOs, raw SysV messages
 * (through the addon), raw udp datagrams, a raw shm peer (the rendezvous socket and the
 * segment mapped with the addon). Each attack is described by a small generated case (a kind
 * and random bytes) and checks what it can see from its side: the listener closes the link
 * it broke (EOF, a BYE, a refused handshake), or ignores what it may ignore.
 *
 * What the listener's process does meanwhile (alive, still answering, fds and threads flat)
 * is transports.test.ts's to check.
 */
import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import { closeSync, constants, fstatSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { createConnection, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { encodeEnvelope, MsgType } from '../../src/bus/envelope.js';
import { native } from '../../src/native.js';
import { encodeFrame } from '../../src/transports/stream/framing.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A generated case: what to do wrong, and bytes to do it with. */
export interface AttackCase {
  kind: number;
  bytes: Uint8Array;
}

/** Frames a bus peer must close a connection over (B.4, B.9), as whole §1 frames. */
function busGarbage(c: AttackCase): Buffer {
  const from = 'raw';
  switch (c.kind % 5) {
    case 0: // a length above maxFrame: the link closes without reading it
      return Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xf0]), c.bytes]);
    case 1: // a frame that is not an envelope
      return encodeFrame(Buffer.concat([Buffer.of(0xc1), c.bytes]));
    case 2: // a hello of another version
      return encodeFrame(encodeEnvelope({ type: MsgType.hello, id: 0, to: '', from, payload: { versions: [2 + (c.bytes[0] ?? 0)], node: from }, hops: 0, refused: undefined }));
    case 3: // an ask before any hello
      return encodeFrame(encodeEnvelope({ type: MsgType.ask, id: 1, to: 'x/echo', from, payload: ['echo', [1]], hops: 0, refused: undefined }));
    default: // a hello, then an unknown message type
      return Buffer.concat([
        encodeFrame(encodeEnvelope({ type: MsgType.hello, id: 0, to: '', from, payload: { versions: [1], node: `raw-${randomBytes(4).toString('hex')}` }, hops: 0, refused: undefined })),
        encodeFrame(Buffer.concat([Buffer.of(0x95, 13 + (c.bytes[0] ?? 0) % 100, 0x01, 0xa0, 0xa0, 0xc0)])),
      ]);
  }
}

/** Resolves once `socket` ends (the peer closed it), or rejects after `ms`. */
function ended(socket: Socket, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: the listener did not close the link within ${ms} ms`)), ms);
    socket.on('close', () => {
      clearTimeout(t);
      resolve();
    });
    socket.on('error', () => {});
    socket.resume(); // read and drop the listener's hello and bye
  });
}

/** unix / tcp: a raw socket that sends garbage or breaks the handshake; kinds 5+ just vanish. */
export async function streamAttack(connectTo: { path: string } | { host: string; port: number }, c: AttackCase): Promise<void> {
  const socket = createConnection(connectTo as never);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  if (c.kind % 8 >= 5) {
    // a partial frame, or nothing, then gone: the listener must not keep anything for it
    if (c.kind % 8 === 6) socket.write(Buffer.concat([Buffer.from([0, 0, 0x10, 0]), c.bytes]));
    socket.destroy();
    return;
  }
  const closed = ended(socket, 10_000, `stream case ${c.kind % 5}`);
  socket.write(busGarbage(c));
  await closed;
}

/** fifo: a garbage request line, or a raw handshake (mkfifo, request, 'S' both ways) and then garbage. */
export async function fifoAttack(path: string, c: AttackCase): Promise<void> {
  const request = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    if (c.kind % 3 === 0) {
      // a line the listener must ignore (not <pid>.<16 hex>), at most PIPE_BUF so it stays whole
      const line = Buffer.concat([Buffer.from(c.bytes).subarray(0, 200), Buffer.from('\n')]);
      writeSync(request, line);
      return;
    }
    const id = randomBytes(8).toString('hex');
    const base = `${path}.${process.pid}.${id}`;
    native.mkfifo(`${base}.up`, 0o600);
    native.mkfifo(`${base}.down`, 0o600);
    const down = openSync(`${base}.down`, constants.O_RDONLY | constants.O_NONBLOCK);
    let up = -1;
    try {
      writeSync(request, `${process.pid}.${id}\n`);
      for (const deadline = Date.now() + 10_000; up < 0; ) {
        try {
          up = openSync(`${base}.up`, constants.O_WRONLY | constants.O_NONBLOCK);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > deadline) throw err;
          await sleep(2);
        }
      }
      writeSync(up, 'S');
      const one = Buffer.alloc(64 * 1024);
      let gotS = false;
      for (const deadline = Date.now() + 10_000; !gotS; ) {
        try {
          gotS = readSync(down, one, 0, 1, null) === 1 && one[0] === 0x53;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > deadline) throw err;
          await sleep(2);
        }
      }
      unlinkSync(`${base}.up`);
      unlinkSync(`${base}.down`);
      if (c.kind % 3 === 1) return; // a handshake, then gone
      writeSync(up, busGarbage(c));
      // the listener closes its end of .down: EOF (read 0) once its hello and bye are read
      for (const deadline = Date.now() + 10_000; ; ) {
        let n: number;
        try {
          n = readSync(down, one, 0, one.length, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          expect(Date.now() < deadline, 'fifo: the listener did not close the link within 10 s').to.equal(true);
          await sleep(5);
          continue;
        }
        if (n === 0) break;
      }
    } finally {
      if (up >= 0) closeSync(up);
      closeSync(down);
      for (const end of ['up', 'down']) {
        try {
          unlinkSync(`${base}.${end}`);
        } catch {
          // already unlinked after the handshake
        }
      }
    }
  } finally {
    closeSync(request);
  }
}

/** Sends one SysV message, retrying while the small queue is full. */
async function msgsnd(msqid: number, mtype: number, m: Buffer): Promise<void> {
  for (const deadline = Date.now() + 10_000; native.msgsndBatch(msqid, mtype, [m], 0) !== 1; ) {
    expect(Date.now() < deadline, `msgq: queue full for 10 s (mtype ${mtype})`).to.equal(true);
    await sleep(1);
  }
}

async function msgrcv(msqid: number, mtype: number, ms: number): Promise<Buffer | null> {
  for (const deadline = Date.now() + ms; ; ) {
    const m = native.msgrcvNoWait(msqid, mtype, 8192);
    if (m !== null || Date.now() > deadline) return m;
    await sleep(2);
  }
}

let replyType = 2 ** 30 + 9000 + (process.pid % 100_000);

/** msgq: garbage and stray ACKs on the handshake type, or a raw link broken after its handshake. */
export async function msgqAttack(key: number, c: AttackCase): Promise<void> {
  const msqid = native.msgget(key, false, 0);
  const b = Buffer.from(c.bytes);
  switch (c.kind % 4) {
    case 0: // garbage, HELLOs of another version, empty messages (wake-ups, never data) to the listener's type: ignored or REJECTed
      await msgsnd(msqid, 1, b);
      await msgsnd(msqid, 1, Buffer.alloc(0));
      return;
    case 1: {
      // an ACK for no handshake: ignored. (Datagrams to mtypes no link reads would stay in the
      // shared queue and fill it: any process of the owner's uid can do that to a SysV queue,
      // which is why it is 0600; not a case a listener can defend against, so not tried here.)
      const ack = Buffer.alloc(10);
      ack[0] = 0x14;
      ack[1] = 2;
      ack.writeUInt32BE(process.pid, 2);
      ack.writeUInt32BE(2 * (1000 + (b[0] ?? 0)), 6);
      await msgsnd(msqid, 1, ack);
      return;
    }
    default: {
      const reply = replyType++;
      const h = Buffer.alloc(14);
      h[0] = 0x10;
      h[1] = 2;
      h.writeUInt32BE(process.pid, 2);
      h.writeUInt32BE(reply, 6);
      h.writeUInt32BE(256, 10);
      await msgsnd(msqid, 1, h);
      const w = await msgrcv(msqid, reply, 10_000);
      expect(w, 'msgq: no WELCOME').to.not.equal(null);
      expect(w![0]).to.equal(0x11);
      const up = w!.readUInt32BE(6);
      const down = w!.readUInt32BE(10);
      const ack = Buffer.alloc(10);
      ack[0] = 0x14;
      ack[1] = 2;
      ack.writeUInt32BE(process.pid, 2);
      ack.writeUInt32BE(up, 6);
      await msgsnd(msqid, 1, ack);
      await msgsnd(msqid, up, Buffer.alloc(0)); // an empty message on the link: a wake-up, never data (§6)
      // a datagram of an unknown kind, or a DATA whose fragment is cut short: a protocol error
      const bad = c.kind % 4 === 2 ? Buffer.concat([Buffer.of(0x05 + ((b[0] ?? 0) % 10)), b]) : Buffer.concat([Buffer.of(0x01, 0, 0, 0, 0), b.subarray(0, 15)]);
      await msgsnd(msqid, up, bad);
      // the listener ends the link with a BYE (its hello may come first, and is dropped)
      for (const deadline = Date.now() + 10_000; ; ) {
        const m = await msgrcv(msqid, down, 500);
        if (m !== null && m[0] === 0x03) return;
        expect(Date.now() < deadline, 'msgq: no BYE for a broken link within 10 s').to.equal(true);
      }
    }
  }
}

/** udp: garbage from a fresh address (ignored), or a HELLO then garbage (the link ends with a BYE). */
export async function udpAttack(port: number, c: AttackCase): Promise<void> {
  const s = createSocket('udp4');
  const inbox: Buffer[] = [];
  s.on('message', (m) => inbox.push(m));
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const send = (b: Buffer): Promise<void> => new Promise((resolve) => s.send(b, port, '127.0.0.1', () => resolve()));
  try {
    const b = Buffer.from(c.bytes);
    if (c.kind % 3 === 0) {
      await send(b); // from an address without a link: ignored unless a HELLO
      await send(Buffer.alloc(0));
      return;
    }
    const h = Buffer.alloc(22);
    h[0] = 0x10;
    h[1] = c.kind % 3 === 1 ? 1 : 7; // version 1, or one nobody speaks (ignored)
    h.writeUInt32BE(b.readUInt32BE(0) >>> 0 || 1, 2);
    h.writeUInt32BE(64, 6);
    h.writeUInt32BE(1200, 10);
    h.writeUInt32BE(100, 14);
    h.writeUInt32BE(600, 18);
    await send(h);
    if (h[1] !== 1) return;
    for (const deadline = Date.now() + 5000; !inbox.some((m) => m[0] === 0x11); await sleep(2)) {
      expect(Date.now() < deadline, 'udp: no WELCOME within 5 s').to.equal(true);
    }
    await send(Buffer.concat([Buffer.of(0x05 + (b[4] ?? 0) % 10), b])); // an unknown kind: a protocol error
    for (const deadline = Date.now() + 5000; !inbox.some((m) => m[0] === 0x03); await sleep(2)) {
      expect(Date.now() < deadline, 'udp: no BYE for a broken link within 5 s').to.equal(true);
    }
  } finally {
    s.close();
  }
}

/** shm: a peer that refuses its segment, vanishes mid-handshake, or maps it and writes garbage positions. */
export async function shmAttack(name: string, c: AttackCase): Promise<void> {
  const rec = native.shmOpen(`/switchyard.${name}`, 0);
  let token: string;
  try {
    const raw = Buffer.alloc(256);
    const n = readSync(rec, raw, 0, 256, 0);
    token = (JSON.parse(raw.subarray(0, n).toString().replace(/\0+$/, '')) as { token: string }).token;
  } finally {
    closeSync(rec);
  }
  const received = await new Promise<{ socket: number; fd: number; byte: number }>((resolve, reject) =>
    native.connectReceiveFd(`\0switchyard-shm.${token}`, 10_000, (e, r) => (e ? reject(e) : resolve(r!))),
  );
  const sock = new Socket({ fd: received.socket, readable: true, writable: true });
  const closed = ended(sock, 10_000, `shm case ${c.kind % 3}`);
  try {
    expect(received.byte).to.equal(0x01);
    expect(received.fd).to.be.at.least(0);
    if (c.kind % 3 === 0) {
      sock.write(Buffer.of(0x00, ...c.bytes.subarray(0, 8))); // not 'k': the listener drops us
      await closed;
      return;
    }
    if (c.kind % 3 === 1) {
      sock.destroy(); // gone before 'k'
      return;
    }
    const capacity = (fstatSync(received.fd).size - native.shmLayout.headerBytes) / 2;
    const ep = new native.ShmEndpoint(received.fd, 1, capacity, 0, () => {});
    try {
      sock.write('k');
      await sleep(20);
      // as side 1, publish a producer position the ring cannot hold, over garbage headers
      const v = new DataView(ep.memory);
      const ring1 = native.shmLayout.headerBytes + capacity;
      for (let i = 0; i + 8 <= c.bytes.length; i += 8) v.setUint32(ring1 + i, new DataView(c.bytes.buffer, c.bytes.byteOffset + i, 4).getUint32(0), true);
      v.setBigUint64(192, BigInt(capacity) * 3n + BigInt(c.bytes[0] ?? 0), true); // ring[1].producer.position
      await closed; // ERR_SHM_CORRUPT on the listener's side closes the liveness socket
    } finally {
      ep.close();
    }
  } finally {
    sock.destroy();
    closeSync(received.fd);
  }
}

/**
 * nats: a raw NATS client that sends garbage and malformed HELLOs to the listener's hello
 * subject (ignored), or opens a link by hand (HELLO request, WELCOME) and breaks it with a
 * datagram of an unknown kind (the listener ends the link with a BYE on `.down`).
 */
export async function natsAttacker(server: string): Promise<{ attack: (address: string, c: AttackCase) => Promise<void>; close: () => Promise<void> }> {
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: server, reconnect: false, name: 'hostile raw peer' });
  const attack = async (address: string, c: AttackCase): Promise<void> => {
    const subject = new URL(address).pathname.slice(1).split('/').join('.'); // P.NAME
    const b = Buffer.from(c.bytes);
    if (c.kind % 3 === 0) {
      nc.publish(`${subject}.hello`, b, { reply: `${subject}.nobody` }); // garbage: ignored
      return;
    }
    const linkId = randomBytes(16).toString('hex');
    const hello = Buffer.alloc(18 + 32);
    hello[0] = 0x10;
    hello[1] = c.kind % 3 === 1 ? 3 + (b[0] ?? 0) % 9 : 2; // another version (ignored), or ours
    hello.writeUInt32BE(8, 2);
    hello.writeUInt32BE(65536, 6);
    hello.writeUInt32BE(100, 10);
    hello.writeUInt32BE(600, 14);
    hello.write(linkId, 18, 'latin1');
    if (hello[1] !== 2) {
      nc.publish(`${subject}.hello`, hello, { reply: `${subject}.nobody` });
      return;
    }
    const down: Buffer[] = [];
    const sub = nc.subscribe(`${subject}.${linkId}.down`, { callback: (_e, m) => void down.push(Buffer.from(m.data)) });
    try {
      const welcome = await nc.request(`${subject}.hello`, hello, { timeout: 5000 });
      expect(welcome.data[0], 'WELCOME').to.equal(0x11);
      nc.publish(`${subject}.${linkId}.up`, Buffer.concat([Buffer.of(0x05 + (b[0] ?? 0) % 10), b]));
      for (const deadline = Date.now() + 5000; !down.some((m) => m[0] === 0x03); await sleep(2)) {
        expect(Date.now() < deadline, 'nats: no BYE for a broken link within 5 s').to.equal(true);
      }
    } finally {
      sub.unsubscribe();
    }
  };
  return { attack, close: () => nc.close() };
}
