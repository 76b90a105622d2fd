/**
 * fork-peer.ts: the far end of the spawn level's baseline, started with child_process.fork:
 * echoes every IPC message straight back and exits when the parent disconnects. Nothing
 * else is loaded, so it is the least a forked Node child can take to answer.
 */
if (!process.send) throw new Error('fork-peer.js must be started with an ipc channel (child_process.fork)');
const send = process.send.bind(process);
process.on('message', (m: unknown) => void send(m as object));
process.on('disconnect', () => process.exit(0));
