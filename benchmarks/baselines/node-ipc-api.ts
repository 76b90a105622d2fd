/**
 * node-ipc-api.ts: the slice of the optional `node-ipc` package (the classic API of 9.x-12.x:
 * `new IPC()`, `serve`, `server.emit`, `connectTo`, `of[id]`) that the node-ipc baseline uses,
 * typed here because the package is not a dependency, and a loader that imports it by a name
 * TypeScript does not resolve at build time. Each side makes its own IPC instance rather
 * than using the package's shared singleton.
 */
import type { Socket } from 'node:net';

export interface NodeIpcConfig {
  id: string;
  silent: boolean;
  retry: number;
  maxRetries: number;
  stopRetrying: boolean;
}

export interface NodeIpc {
  config: NodeIpcConfig;
  serve(path: string, onReady: () => void): void;
  server: {
    on(event: 'connect', handler: (socket: Socket) => void): void;
    on(event: 'message', handler: (data: unknown, socket: Socket) => void): void;
    emit(socket: Socket, type: string, data: unknown): void;
    start(): void;
    stop(): void;
  };
  connectTo(id: string, path: string, onReady: () => void): void;
  of: Record<string, { on(event: string, handler: (data: unknown) => void): void; emit(type: string, data: unknown): void }>;
}

const NAME = 'node-ipc';

/** A fresh, quiet IPC instance, or an Error if the installed node-ipc lacks the classic API. */
export async function newNodeIpc(id: string): Promise<NodeIpc> {
  const mod = (await import(NAME)) as { IPC?: new () => NodeIpc; default?: { IPC?: new () => NodeIpc } };
  const IPC = mod.IPC ?? mod.default?.IPC;
  if (typeof IPC !== 'function') throw new Error('node-ipc is installed but has no IPC class (switchyard knows the 9.x-12.x API)');
  const ipc = new IPC();
  Object.assign(ipc.config, { id, silent: true, retry: 100, maxRetries: 0, stopRetrying: true });
  return ipc;
}
