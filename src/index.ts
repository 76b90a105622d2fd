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
} from './transports/core/transport.js';
export { DEFAULT_HIGH_WATER_MARK, DEFAULT_LINGER_MS, DEFAULT_MAX_FRAME, DEFAULT_TIMEOUT_MS } from './transports/core/transport.js';
export { connect, getTransport, listen, listTransports, pair, registerTransport } from './transports/core/registry.js';
export { linkFromParent, LINK_ENV, spawnWithLink, type SpawnedLink, type SpawnWithLinkOptions } from './transports/core/child.js';
export { parseAddress } from './transports/core/address.js';
export type { ShmLinkOptions } from './transports/shm/settings.js';
export {
  AskTimeoutError,
  RemoteError,
  StreamOverflowError,
  FrameTooLargeError,
  PeerGoneError,
  ProtocolError,
  SwitchyardError,
  TransportError,
  ChildFailedError,
  ChildQueueFullError,
  AuthError,
  InsecureListenError,
  type TransportErrorDetails,
  MailboxFullError,
  LimitError,
} from './errors.js';
export { BrokerQueueFullError, FramesLostError } from './errors.js';
export type { Announcement, DiscoveryEvent, DiscoveryWatch } from './transports/core/transport.js';

export { ActorSystem, type ActorSystemOptions, type LocalActorOptions, type RemoteSystem, type SystemListener } from './actors/system.js';
export type { AttachOptions, ListenOptions } from './actors/system.js';
export type { AuthRole } from './bus/auth.js';
export {
  defineActor,
  type ActorDefinition,
  type ActorSpec,
  type AnyActorDefinition,
  type ChannelArgs,
  type ChannelInput,
  type ChannelName,
  type ChannelOutput,
  type InitArgs,
  type MessageArgs,
  type MessageName,
  type Reply,
  type StreamArgs,
  type StreamName,
  type StreamValue,
} from './actors/define.js';
export type { ActorRef, RefOptions } from './actors/ref.js';
export { iterate } from './actors/iterate.js';
export { Demand } from './bus/demand.js';
export type { SystemLimits } from './actors/limits.js';
export type { OverflowPolicy } from './bus/serving.js';
export type { SupervisedRef } from './actors/supervision/child-ref.js';
export type { PoolOptions, PoolRef, PoolStatus } from './actors/supervision/pool.js';
export type { SpawnOptions } from './actors/supervision/spec.js';
export type { ChildSpec, SupervisorRef } from './actors/supervision/supervision.js';
export type { SupervisionStrategy, SupervisorOptions } from './actors/supervision/supervisor.js';
export type { RestartPolicy, IntensityOptions } from './actors/supervision/restart-policy.js';
export type { BackoffOptions } from './actors/supervision/backoff.js';
export type { LivenessOptions } from './actors/supervision/liveness.js';
export type { ChildStatus, ExitCause } from './actors/supervision/status.js';
export type { ChildStdio } from './actors/supervision/stdio.js';
export type { HandleSignalsOptions } from './actors/supervision/signals.js';
export { BadValueError } from './errors.js';
export { PartialFramesError } from './errors.js';
export { DEFAULT_MAX_PARTIAL_FRAME_BYTES, setMaxPartialFrameBytes } from './transports/datagram/fragment.js';
