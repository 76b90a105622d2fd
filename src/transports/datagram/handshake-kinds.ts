/**
 * handshake-kinds.ts: the kind bytes that open a link on a datagram transport
 * (docs/PROTOCOL.md §5-§7): a client's HELLO and the listener's WELCOME.
 *
 * They share the one-byte kind space of §5 with DATA, CREDIT, BYE and PING (0x01-0x04), so
 * they are written once here, beside that space, rather than once per transport. msgq also
 * takes 0x12 (REJECT) and 0x13 (OWNER) for itself. What follows the kind byte (the layout
 * and its version byte) is each transport's own (§6 for msgq, §7 for udp) and stays in its file.
 */

/** First byte of a client's request to open a link. */
export const KIND_HELLO = 0x10;
/** First byte of the listener's answer that opens it. */
export const KIND_WELCOME = 0x11;
