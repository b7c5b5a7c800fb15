/** Lambda entry: consumes dream-jobs; one dream run per record, partial batch failures reported. */
import middy from "@middy/core";
import type { SQSEvent } from "aws-lambda";
import { awsDreamJobDeps } from "../shared/runtime/aws-dream-worker.js";
import { createDreamJobHandler } from "../shared/runtime/handlers/dream-job-handler.js";

let run: ReturnType<typeof createDreamJobHandler> | undefined;

export const handler = middy(async (event: SQSEvent) => {
  run ??= createDreamJobHandler(await awsDreamJobDeps());
  return run(event);
});
