/** The Lambda functions of a Reverie stack, each built from `functions/<name>.ts`. */
export type ReverieFunctionName =
  | "api"
  | "api-memory"
  | "api-workspace"
  | "api-stream"
  | "authorizer"
  | "agent-step"
  | "sweeper"
  | "dream-worker"
  | "dream-scheduler"
  | "deployment-runner";
