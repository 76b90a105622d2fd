/**
 * index.ts: the public surface of switchyard. Everything exported here is supported;
 * everything else under src/ is internal and may change.
 */
import './transports/builtin.js';

export type {
  ChildEnd,
  CloseKind,
  CloseReason,
  Link,
  LinkCapabilities,
  LinkOptions,
  LinkPair,
  LinkStats,
  Listener,
  Transport,
} from './transports/transport.js';
export { DEFAULT_HIGH_WATER_MARK, DEFAULT_LINGER_MS, DEFAULT_MAX_FRAME, DEFAULT_TIMEOUT_MS } from './transports/transport.js';
export { connect, getTransport, listen, listTransports, pair, registerTransport } from './transports/registry.js';
export { linkFromParent, LINK_ENV, spawnWithLink, type SpawnedLink, type SpawnWithLinkOptions } from './transports/child.js';
export { parseAddress } from './transports/address.js';
export {
  FrameTooLargeError,
  PeerGoneError,
  ProtocolError,
  SwitchyardError,
  TransportError,
  type TransportErrorDetails,
} from './errors.js';
