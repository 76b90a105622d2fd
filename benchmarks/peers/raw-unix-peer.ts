/**
 * raw-unix-peer.ts: the far end of the raw Unix socket baseline: `node raw-unix-peer.js PATH`.
 * Connects, answers probes with the shared Responder, exits when the socket ends.
 */
import { connect } from 'node:net';
import { LengthPrefixReader, writeFrame } from '../baselines/length-prefix.js';
import { Responder } from '../responder.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: raw-unix-peer.js PATH');
const socket = connect(path);
const reader = new LengthPrefixReader();
// Frames are views into chunks Node hands over and never reuses: echo them without a copy.
const responder = new Responder({ copyEcho: false });
const reply = (bytes: Uint8Array): void => void writeFrame(socket, bytes);
socket.on('data', (chunk: Buffer) => reader.push(chunk, (f) => responder.handle(f, reply)));
socket.on('end', () => socket.end());
socket.on('close', () => process.exit(0));
socket.on('error', () => process.exit(1));
