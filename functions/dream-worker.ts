/** Lambda entry: consumes dream-jobs; one dream run per record, partial batch failures reported. */
import middy from "@middy/core";
import type { SQSEvent } from "aws-lambda";
import { withDreams } from "../shared/runtime/aws-dream-ports.js";
import { withModel } from "../shared/runtime/aws-ports.js";
import { awsServices } from "../shared/runtime/aws-services.js";
import { dreamsOf } from "../shared/runtime/dream-wiring.js";
import { createDreamJobHandler } from "../shared/runtime/handlers/dream-job-handler.js";

let run: ReturnType<typeof createDreamJobHandler> | undefined;

export const handler = middy(async (event: SQSEvent) => {
  run ??= createDreamJobHandler(
    dreamsOf(await awsServices(async (config) => ({ ...withDreams(config), ...(await withModel(config)) })))
      .dreamDeps,
  );
  return run(event);
});
