/**
 * Recognises a run-now (`POST /v1/deployments/{id}/run`) that repeats an attempt whose answer was
 * lost. The official SDK retries it after a connection error, a timeout, a 408, 409, 429 or 5xx,
 * with the same body and `X-Stainless-Retry-Count: n` (n ≥ 1), and sends no idempotency key; the
 * first attempt may have started its run (a session, its initial events sent to the model) before
 * its answer was lost. Starting another would run the deployment twice for one call.
 *
 * The rule is the one of a send of user events (events/send-attempts.ts): a run-now is a possible
 * repeat only when it says so — a retry count ≥ 1, or an `Idempotency-Key`. Each run-now records
 * itself as the deployment's newest (`drunnow#<ws>#<deployment>` / `newest`) before it claims its
 * run; a possible repeat is taken for a repeat of that newest run-now when it was made within
 * {@link RUN_NOW_RETRY_WINDOW_MS}, with the same body, by the same credential, under the same
 * `Idempotency-Key` (or none, like the request). It then finishes and answers with that run.
 * A run-now that is not a retry is never matched: a user may really run a deployment twice.
 * What remains ambiguous: two clients of one key running a deployment at once, one of whom loses
 * its answer — its retry answers with the other's (newer) run; a client that must tell these apart
 * sends its own key.
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import { SEND_RETRY_WINDOW_MS, type SendAttempt, sentDigest } from "../events/send-attempts.js";
import type { DocumentStore } from "../ports.js";

/** How long after a run-now its retry is still recognised: as a send's (the SDK's timeout and backoff). */
export const RUN_NOW_RETRY_WINDOW_MS = SEND_RETRY_WINDOW_MS;

/** What the HTTP edge knows of a run-now: whether it says it repeats one, what it asked, who asks. */
export interface RunNowAttempt extends SendAttempt {
  /** The parsed request body (the SDK sends none: `{}`). */
  body?: unknown;
  /** The credential (API key id) that made the request: a retry comes from the same client. */
  caller?: string;
}

export const runNowMarkKey = (workspaceId: string, deploymentId: string) =>
  `drunnow#${workspaceId}#${deploymentId}`;
const NEWEST = "newest";

const runNowMarkSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    runId: z.string(),
    /** When the run-now was made (ms). */
    at: z.number(),
    digest: z.string(),
    key: z.string().optional(),
    caller: z.string().optional(),
  }),
);
type RunNowMark = z.infer<typeof runNowMarkSchema>;

const digestOf = (attempt: RunNowAttempt) => sentDigest(attempt.body ?? {});

/** Records a run-now as the deployment's newest, before its run is claimed (overwrites the last). */
export async function markRunNow(
  store: DocumentStore,
  workspaceId: string,
  deploymentId: string,
  runId: string,
  attempt: RunNowAttempt,
  now: number,
): Promise<void> {
  const mark: RunNowMark = {
    schemaVersion: 1,
    runId,
    at: now,
    digest: digestOf(attempt),
    ...(attempt.idempotencyKey === undefined ? {} : { key: attempt.idempotencyKey }),
    ...(attempt.caller === undefined ? {} : { caller: attempt.caller }),
  };
  await store.put("resources", { pk: runNowMarkKey(workspaceId, deploymentId), sk: NEWEST, ...mark });
}

/**
 * The run id of the earlier attempt this run-now repeats, if it is a possible repeat and the
 * deployment's newest run-now matches it (see the module's rule); undefined otherwise.
 */
export async function findEarlierRunNow(
  store: DocumentStore,
  workspaceId: string,
  deploymentId: string,
  attempt: RunNowAttempt,
  now: number,
): Promise<string | undefined> {
  if (!attempt.retry && attempt.idempotencyKey === undefined) return undefined;
  const item = await store.get("resources", runNowMarkKey(workspaceId, deploymentId), NEWEST);
  if (!item) return undefined;
  const mark = runNowMarkSchema.parse(item);
  const matches =
    mark.at >= now - RUN_NOW_RETRY_WINDOW_MS &&
    mark.digest === digestOf(attempt) &&
    mark.key === attempt.idempotencyKey &&
    mark.caller === attempt.caller;
  return matches ? mark.runId : undefined;
}
