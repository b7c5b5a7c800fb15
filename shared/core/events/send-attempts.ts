/**
 * Recognises a send of user events (`POST /v1/sessions/{id}/events`) that repeats an attempt whose
 * answer was lost. The official SDK retries a send after a connection error, a timeout, a 408, 409,
 * 429 or 5xx, with the same body and `X-Stainless-Retry-Count: n` (n ≥ 1), and sends no
 * idempotency key; the first attempt may have written its events (and died, or lost its answer)
 * before the retry arrives. Appending them again would make the agent read (and answer) them twice.
 *
 * The rule: a send is a possible repeat only when it says so — a retry count ≥ 1, or an
 * `Idempotency-Key`. It is taken for a repeat of an earlier attempt when the newest events written
 * by sends (each carries a `SentMark`) are that attempt's, from its first event on, and:
 * - they are the first events of the request, equal to its events in order (same digest of the
 *   parsed event: type and content), and the attempt had as many events as the request;
 * - no other send wrote an event after (or between) them;
 * - the attempt was made within {@link SEND_RETRY_WINDOW_MS} (the SDK's default 10-minute timeout,
 *   its backoff and some slack), and under the same `Idempotency-Key` (or none, like the request).
 * A send that is not a retry is never matched: a user may really send "yes" twice. What remains
 * ambiguous is a deliberate repeat whose own first attempt never reached the log (a 429 before the
 * append) and whose retry follows at once; a client that must tell these apart sends its own key.
 */
import { createHash } from "node:crypto";
import type { EventLog, LoggedEvent, SentMark } from "./event-log.js";

/** How long after an attempt its retry is still recognised. */
export const SEND_RETRY_WINDOW_MS = 15 * 60_000;

/** How far back (events) the newest send is looked for: a turn writes many events, a retry comes soon. */
const SCAN_LIMIT = 2_000;
const PAGE = 100;

/** What the HTTP edge knows of a send: whether the client says it repeats an earlier request. */
export interface SendAttempt {
  /** `X-Stainless-Retry-Count` ≥ 1: the SDK retries a request whose answer it did not get. */
  retry: boolean;
  /** The client's own `Idempotency-Key`, if it sent one. */
  idempotencyKey?: string;
}

/** The digest of one parsed event as sent: equal for the same request body sent again. */
export function sentDigest(event: unknown): string {
  return createHash("sha256").update(JSON.stringify(event)).digest("hex");
}

/**
 * The events an earlier attempt of this request wrote, oldest first, if the newest sends in the log
 * are its (see the module's rule): all of the request's events, or the first few when that attempt
 * died midway. Empty when the request is not a repeat or nothing matches.
 */
export async function findEarlierAttempt(
  log: EventLog,
  sessionId: string,
  digests: readonly string[],
  attempt: SendAttempt,
  now: number,
): Promise<LoggedEvent[]> {
  if (!attempt.retry && attempt.idempotencyKey === undefined) return [];
  const cutoff = now - SEND_RETRY_WINDOW_MS;
  let newest: SentMark | undefined;
  const found: LoggedEvent[] = [];
  let before: number | undefined;
  for (let scanned = 0; scanned < SCAN_LIMIT; ) {
    const page = await log.read(sessionId, { order: "desc", limit: PAGE, before });
    for (const entry of page) {
      const mark = entry.internals.sent;
      if (!mark) {
        // Past the window nothing can match (the newest send is looked for first).
        if (!newest && writtenBefore(entry, cutoff)) return [];
        continue;
      }
      if (!newest) {
        if (mark.at < cutoff || mark.count !== digests.length || mark.key !== attempt.idempotencyKey)
          return [];
        newest = mark;
      } else if (mark.group !== newest.group) return [];
      if (mark.index !== newest.index - found.length || mark.digest !== digests[mark.index]) return [];
      found.unshift(entry);
      if (mark.index === 0) return found;
    }
    scanned += page.length;
    if (page.length < PAGE) return [];
    before = (page.at(-1) as LoggedEvent).seq;
  }
  return [];
}

function writtenBefore(entry: LoggedEvent, cutoff: number): boolean {
  const at = (entry.event as { processed_at?: string | null }).processed_at;
  return typeof at === "string" && Date.parse(at) < cutoff;
}
