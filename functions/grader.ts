/** Lambda entry: consumes the grader queue; one outcome evaluation per record, partial batch failures reported. */
import middy from "@middy/core";
import type { SQSEvent } from "aws-lambda";
import { awsServices, withModel } from "../shared/runtime/aws-ports.js";
import { createGraderHandler } from "../shared/runtime/handlers/grader-handler.js";

let grade: ReturnType<typeof createGraderHandler> | undefined;

export const handler = middy(async (event: SQSEvent) => {
  grade ??= createGraderHandler((await awsServices(withModel)).deps);
  return grade(event);
});
