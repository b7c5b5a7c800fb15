/**
 * A Lambda container builds its composition once, on its first invocation (aws-ports.ts,
 * aws-services.ts): a failed build is not kept, so a transient failure (Secrets Manager unreachable,
 * say) costs one invocation, not every invocation until Lambda recycles the container.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const ENV = {
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
  ANTHROPIC_API_KEY: "sk-ant-test",
  REVERIE_TABLE_RESOURCES: "resources",
  REVERIE_TABLE_EVENTS: "events",
  REVERIE_AGENT_STEPS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/1/agent-steps",
  REVERIE_GRADER_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/1/grader",
  REVERIE_WEBHOOKS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/1/webhooks",
  REVERIE_DREAM_JOBS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/1/dream-jobs",
};

describe("a Lambda container's composition", () => {
  beforeEach(() => {
    vi.resetModules();
    for (const [name, value] of Object.entries(ENV)) vi.stubEnv(name, value);
    // Missing at first: the first build fails, as a cold start whose setup failed.
    vi.stubEnv("REVERIE_WORKSPACE_BUCKET", "");
  });
  afterEach(() => vi.unstubAllEnvs());

  it.each([
    ["awsStepDeps (grader)", async () => (await import("../../shared/runtime/aws-ports.js")).awsStepDeps],
    [
      "awsServices (the others)",
      async () => (await import("../../shared/runtime/aws-services.js")).awsServices,
    ],
    [
      "awsDreamJobDeps (dream worker)",
      async () => (await import("../../shared/runtime/aws-dream-worker.js")).awsDreamJobDeps,
    ],
  ])("%s: is built once, and built again after a failure", async (_name, load) => {
    const build = (await load()) as () => Promise<unknown>;
    await expect(build()).rejects.toThrow(/REVERIE_WORKSPACE_BUCKET is required/);
    vi.stubEnv("REVERIE_WORKSPACE_BUCKET", "workspace");
    const built = build();
    await expect(built).resolves.toBeDefined();
    expect(build()).toBe(built);
  });
});
