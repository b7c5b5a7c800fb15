/**
 * An AWS SDK client given to an adapter either as an instance (tests pass one to aws-sdk-client-mock)
 * or as a factory that imports the client's package on first use. A Lambda function loads at cold
 * start only the SDK packages every invocation needs (DynamoDB, SQS); one that publishes to SNS or
 * starts a Step Functions execution on some invocations pays for that package then, not at every
 * cold start. The adapters import their commands the same way (`await import(...)`), so that no
 * module-level import of the package is left for the bundler to hoist into the function's init.
 */
export type SdkClient<C> = C | (() => Promise<C>);

/** `source` as a memoised getter: the factory runs once, an instance is returned as is. */
export function sdkClientGetter<C extends object>(source: SdkClient<C>): () => Promise<C> {
  if (typeof source !== "function") return async () => source;
  let client: Promise<C> | undefined;
  return () => {
    client ??= (source as () => Promise<C>)();
    // A failed import is not remembered: the next call tries again.
    client.catch(() => {
      client = undefined;
    });
    return client;
  };
}
