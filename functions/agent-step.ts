/** Lambda entry: consumes agent-steps; one step per record, partial batch failures reported. */
import middy from "@middy/core";
import type { SQSEvent } from "aws-lambda";
import { withDreamJobs } from "../shared/runtime/aws-dream-jobs.js";
import { withModel } from "../shared/runtime/aws-ports.js";
import { withSandbox } from "../shared/runtime/aws-sandbox-ports.js";
import { awsServices } from "../shared/runtime/aws-services.js";
import { createStepHandler } from "../shared/runtime/handlers/step-handler.js";
import { withMcp } from "../shared/runtime/mcp-ports.js";

let step: ReturnType<typeof createStepHandler> | undefined;

export const handler = middy(async (event: SQSEvent) => {
  step ??= createStepHandler(
    (
      await awsServices(async (config) => ({
        ...(await withModel(config)),
        ...(await withSandbox(config)),
        ...withMcp(config),
        ...withDreamJobs(config),
      }))
    ).deps,
  );
  return step(event);
});
