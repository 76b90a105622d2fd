/**
 * reachable-transports.ts: which of the registered transports the default bench can run on
 * this machine. Every local transport can; `nats` needs a server (SWITCHYARD_NATS_URL, else
 * 127.0.0.1:4222), which a fresh machine does not have. Without one, the default run leaves
 * nats out and says why, so `switchyard bench` works from a clean clone; asking for it by name
 * (`--transports nats`) still measures it, and fails clearly if no server answers.
 */
import { createConnection } from 'node:net';

/** The NATS server the bench (and private-address.ts) would use. */
export function natsServerUrl(): string {
  return process.env.SWITCHYARD_NATS_URL ?? 'nats://127.0.0.1:4222';
}

/** Resolves whether something accepts TCP connections at host:port within `timeoutMs`. */
function accepts(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** The schemes out of `schemes` the default run keeps, and a note for each one left out. */
export async function reachableTransports(schemes: readonly string[]): Promise<{ schemes: string[]; notes: string[] }> {
  const notes: string[] = [];
  let keep = [...schemes];
  if (keep.includes('nats')) {
    const url = new URL(natsServerUrl());
    const port = Number(url.port || 4222);
    if (!(await accepts(url.hostname, port, 500))) {
      keep = keep.filter((s) => s !== 'nats');
      notes.push(`nats left out: no NATS server at ${url.hostname}:${port} (start nats-server, or set SWITCHYARD_NATS_URL; --transports nats asks for it anyway)`);
    }
  }
  return { schemes: keep, notes };
}
