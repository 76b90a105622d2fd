/**
 * native.ts: the one loader of the compiled addon, and the typed declaration of its surface.
 *
 * Nothing outside src/transports imports this module. Arguments are validated by the
 * callers in TypeScript; the addon trusts them (positional, small, boring). Every failure
 * inside the addon is thrown as a {@link TransportError} built by makeTransportError.
 */
import { createRequire } from 'node:module';
import { makeTransportError } from './errors.js';

/** The addon's exports. */
export interface NativeAddon {
  /** pipe2(O_CLOEXEC): `[readFd, writeFd]`. */
  pipe(): [number, number];
  /** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): two connected ends. */
  socketpair(): [number, number];
  /** mkfifo(path, mode), then chmod to exactly `mode` regardless of umask. */
  mkfifo(path: string, mode: number): void;
  /** Sets or clears FD_CLOEXEC. */
  setCloexec(fd: number, on: boolean): void;
  /** Sets or clears O_NONBLOCK. */
  setNonblock(fd: number, on: boolean): void;
  /** Registers the JS factory the addon uses for every error it throws. */
  setErrorFactory(factory: (errno: number, syscall: string, address: string) => Error): void;
}

function load(): NativeAddon {
  const require = createRequire(import.meta.url);
  // dist/src/native.js -> ../../build/Release; also try Debug for `node-gyp --debug` builds.
  const candidates = ['../../build/Release/switchyard.node', '../../build/Debug/switchyard.node'];
  let lastError: unknown;
  for (const path of candidates) {
    try {
      const addon = require(path) as NativeAddon;
      addon.setErrorFactory(makeTransportError);
      return addon;
    } catch (err) {
      lastError = err;
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') break;
    }
  }
  throw new Error(
    `switchyard: the native addon is not built (run \`npm install\` or \`npm run build:native\`): ${String(lastError)}`,
    { cause: lastError },
  );
}

/** The loaded addon (loaded once, on first import). */
export const native: NativeAddon = load();
