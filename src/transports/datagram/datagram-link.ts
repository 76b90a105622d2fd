/**
 * datagram-link.ts: the Link of the transports whose unit is a bounded datagram or record
 * (msgq, udp): a LinkCore (core/link-core.ts, the one lifecycle) with a DatagramCarrier
 * (datagram-carrier.ts: fragments, credit, heartbeats, BYE) under it. This file is the face
 * the transports construct and talk to; it owns no behaviour of its own beyond wiring.
 *
 * The transport supplies a DatagramPort (how datagrams leave), calls `receive()` with each
 * datagram addressed to the link, and reports what it sees about the peer: `peerGone()` (queue
 * removed, ICMP unreachable, a restarted peer) and `fail()` (a local failure, e.g. the
 * receive thread ended with an errno). The handshake that creates the link is the transport's.
 *
 * Invariants (beyond LinkCore's and the carrier's):
 * - The carrier is made and attached in the constructor: a DatagramLink is complete when the
 *   transport gets it.
 * - A peer-gone always carries a PeerGoneError saying why, as it did before LinkCore.
 * - A peer found dead ends the link at once, even behind a pause: what it sent and we hold
 *   undelivered is dropped (msgq.test.ts, "after a client is SIGKILLed mid-stream", holds
 *   this). Only the peer's BYE is an ending in order, after the frames before it
 *   (datagram-bye.test.ts). Stream links differ: a dead peer's EOF waits behind the input
 *   held there; which rule every link keeps is for the Link contract to say.
 */
import { PeerGoneError } from '../../errors.js';
import { LinkCore, type LinkCoreInit } from '../core/link-core.js';
import type { LinkStats } from '../core/transport.js';
import { DatagramCarrier, type DatagramCarrierInit } from './datagram-carrier.js';

export { KIND_BYE, KIND_DATA, DATA_HEADER_BYTES, MIN_DATAGRAM } from './datagram-wire.js';
export type { DatagramPort } from './datagram-carrier.js';

/** What a transport gives a DatagramLink: LinkCore's init and the carrier's own settings. */
export interface DatagramLinkInit extends LinkCoreInit, Omit<DatagramCarrierInit, 'scheme' | 'remote' | 'reliable' | 'maxFrame'> {}

export class DatagramLink extends LinkCore {
  private readonly datagrams: DatagramCarrier;

  constructor(init: DatagramLinkInit) {
    super({ scheme: init.scheme, remote: init.remote, capabilities: init.capabilities, options: init.options });
    // The carrier reports to this link (the sink); it calls nothing on it until later ticks.
    this.datagrams = new DatagramCarrier({ ...init, reliable: init.capabilities.reliable, maxFrame: init.options.maxFrame }, this);
    this.attach(this.datagrams);
  }

  /** The peer said BYE: it sends nothing more on this link. */
  get peerSaidBye(): boolean {
    return this.datagrams.peerSaidBye;
  }

  /** Frame counters (exact). */
  override get stats(): LinkStats {
    return this.datagrams.stats;
  }

  /**
   * Takes one datagram addressed to this link (called by the transport, on the JS thread).
   * `datagram` may be a view into a larger buffer; it is not modified.
   */
  receive(datagram: Buffer): void {
    this.datagrams.receive(datagram);
  }

  /**
   * A sign of the peer's life from outside the link (nats: its process's liveness message):
   * the silence timeout starts over.
   */
  heard(): void {
    this.datagrams.heard();
  }

  /**
   * The peer went away: the transport saw it (queue removed, ICMP unreachable, a restarted
   * peer) or the carrier did (pid probe, silence, its BYE). A dead peer's datagrams still held
   * behind a pause are dropped and the link ends now; a BYE comes in order, after every
   * frame before it was handed up, so nothing is held then.
   */
  override peerGone(error?: Error): void {
    this.datagrams.discardHeld();
    super.peerGone(error ?? new PeerGoneError(`${this.scheme} peer ${this.remote} is gone`));
  }

  /** A local failure found by the transport (e.g. the receive thread ended with an errno). */
  override fail(error: Error): void;
  /** The carrier's report (CarrierSink): the peer broke the protocol, or something failed here. */
  override fail(kind: 'protocol-error' | 'error', error: Error): void;
  override fail(kindOrError: 'protocol-error' | 'error' | Error, error?: Error): void {
    if (kindOrError instanceof Error) super.fail('error', kindOrError);
    else super.fail(kindOrError, error!);
  }
}
