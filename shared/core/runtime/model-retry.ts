/** Backoff for model calls that failed with 429/5xx/overloaded: retried through SQS delays. */

export interface RetryPolicy {
  maxRetries: number;
  baseSeconds: number;
}

/** Full-jitter exponential backoff, capped at SQS's 900-second maximum delay. */
export function retryDelaySeconds(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(900, policy.baseSeconds * 2 ** attempt);
  return Math.round(random() * ceiling * 1000) / 1000;
}

export function canRetry(attempt: number, policy: RetryPolicy): boolean {
  return attempt < policy.maxRetries;
}
