/**
 * stream-link.ts: the Link of every byte-stream transport (pipe, socketpair, FIFO, Unix
 * socket, TCP): LinkCore's one lifecycle over a StreamCarrier (stream-carrier.ts), which
 * holds everything particular to a byte stream.
 */
import { LinkCore } from '../core/link-core.js';
import type { ResolvedLinkOptions } from '../core/options.js';
import type { LinkCapabilities } from '../core/transport.js';
import { StreamCarrier, type StreamCarrierInit } from './stream-carrier.js';

export interface StreamLinkInit extends StreamCarrierInit {
  capabilities: Omit<LinkCapabilities, 'maxFrame'>;
  options: ResolvedLinkOptions;
}

export class StreamLink extends LinkCore {
  constructor(init: StreamLinkInit) {
    super(init);
    this.attach(new StreamCarrier(this, init));
  }
}
