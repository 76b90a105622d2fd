/**
 * strerror.ts: a human description for an errno name, from libuv's own table
 * (util.getSystemErrorMap), so messages read like the C library's.
 */
import { getSystemErrorMap } from 'node:util';

let table: Map<string, string> | undefined;

export function strerror(code: string): string {
  if (!table) {
    table = new Map();
    for (const [name, description] of getSystemErrorMap().values()) table.set(name, description);
  }
  return table.get(code) ?? 'unknown error';
}
