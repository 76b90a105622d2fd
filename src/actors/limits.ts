/**
 * limits.ts: the limits an ActorSystem applies (issue 14, Deliver 4), their safe defaults,
 * and their checking. Each is a positive integer; a bad one is a RangeError at start().
 * What each limit does when reached is written beside it, and in README's API section.
 */
import { DEFAULT_PENDING_ASKS_PER_PEER, DEFAULT_STREAMS_PER_PEER, limitOption, type BusLimits } from '../bus/limits.js';
import { DEFAULT_MAILBOX_LIMIT } from './mailbox.js';

export interface SystemLimits {
  /**
   * Messages waiting in one actor's mailbox (default 10,000; per actor with
   * `local(def, { mailbox })`). Beyond it a tell or ask from this process fails with
   * MailboxFullError; a link that delivers to a full mailbox is paused until it has drained
   * to half, so remote senders slow down and lose nothing.
   */
  mailbox?: number;
  /** Asks one peer may have unanswered here (default 16,384); one more is answered with an `error` ERR_LIMIT. */
  pendingAsksPerPeer?: number;
  /** Streams and channels one peer may have open here (default 1,024); a `sub` more is answered with an `error` ERR_LIMIT. */
  streamsPerPeer?: number;
  /**
   * Connections one listener holds at once (default 1,024: each costs at least an fd, and a
   * process's fds are finite); one more is sent a `bye` ERR_LIMIT and closed at once.
   */
  linksPerListener?: number;
}

export const DEFAULT_LINKS_PER_LISTENER = 1_024;

export interface ResolvedLimits extends BusLimits {
  mailbox: number;
  linksPerListener: number;
}

export function resolveLimits(l: SystemLimits = {}): ResolvedLimits {
  return {
    mailbox: limitOption('mailbox', l.mailbox, DEFAULT_MAILBOX_LIMIT),
    pendingAsksPerPeer: limitOption('pendingAsksPerPeer', l.pendingAsksPerPeer, DEFAULT_PENDING_ASKS_PER_PEER),
    streamsPerPeer: limitOption('streamsPerPeer', l.streamsPerPeer, DEFAULT_STREAMS_PER_PEER),
    linksPerListener: limitOption('linksPerListener', l.linksPerListener, DEFAULT_LINKS_PER_LISTENER),
  };
}
