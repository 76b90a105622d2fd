/**
 * address.ts: turns user input into a URL and pulls out the parts each transport needs,
 * with one kind of error (TransportError, code ERR_BAD_ADDRESS) that quotes the input.
 */
import { TransportError } from '../../errors.js';

/** Parses `input` as a switchyard address such as `tcp://127.0.0.1:0` or `unix:///tmp/s.sock`. */
export function parseAddress(input: string | URL): URL {
  if (input instanceof URL) return input;
  if (typeof input !== 'string' || input.length === 0) {
    throw badAddress(String(input), 'an address is a URL such as tcp://127.0.0.1:7000 or unix:///tmp/app.sock');
  }
  try {
    return new URL(input);
  } catch (cause) {
    throw badAddress(input, 'it is not a URL (expected e.g. tcp://127.0.0.1:7000 or unix:///tmp/app.sock)', cause);
  }
}

/** The scheme without its colon: `tcp` for `tcp://...`. */
export function schemeOf(url: URL): string {
  return url.protocol.replace(/:$/, '');
}

/** An absolute filesystem path from `scheme:///abs/path`. */
export function pathOf(url: URL): string {
  if (url.host !== '') {
    throw badAddress(url.href, `${schemeOf(url)}: takes an absolute path with three slashes, e.g. ${schemeOf(url)}:///tmp/name`);
  }
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch (cause) {
    throw badAddress(url.href, 'the path has a malformed %-escape', cause);
  }
  if (!path.startsWith('/') || path.length < 2 || path.endsWith('/')) {
    throw badAddress(url.href, `${schemeOf(url)}: needs an absolute path to a file, e.g. ${schemeOf(url)}:///tmp/name`);
  }
  if (path.includes('\0')) throw badAddress(url.href, 'the path contains a NUL byte');
  return path;
}

/**
 * Host and port from `scheme://host:port`; the host defaults to 127.0.0.1 (loopback).
 * `portRequired` (connecting) wants a real port: none, or port 0, is ERR_BAD_ADDRESS; a
 * listener may leave it out or give 0, and the OS picks one.
 */
export function hostPortOf(url: URL, { portRequired }: { portRequired: boolean }): { host: string; port: number } {
  const host = url.hostname === '' ? '127.0.0.1' : url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.port === '') {
    if (portRequired) throw badAddress(url.href, `${schemeOf(url)}: needs a port, e.g. ${schemeOf(url)}://127.0.0.1:7000`);
    return { host, port: 0 };
  }
  const port = Number(url.port);
  if (portRequired && port === 0) throw badAddress(url.href, `${schemeOf(url)}: cannot connect to port 0; name the port the listener reported`);
  return { host, port };
}

/** Formats host and port back into an address. */
export function formatHostPort(scheme: string, host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function badAddress(input: string, why: string, cause?: unknown): TransportError {
  return new TransportError('ERR_BAD_ADDRESS', `bad address "${input}": ${why}`, {
    address: input,
    ...(cause === undefined ? {} : { cause }),
  });
}
