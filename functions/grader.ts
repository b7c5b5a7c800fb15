/** Lambda entry: consumes the grader queue; one outcome evaluation per record, partial batch failures reported. */
import middy from "@middy/core";
import type { SQSEvent } from "aws-lambda";
import { awsStepDeps, withModel } from "../shared/runtime/aws-ports.js";
import { createGraderHandler } from "../shared/runtime/handlers/grader-handler.js";

let grade: ReturnType<typeof createGraderHandler> | undefined;

// A step's dependencies alone: grading needs no bounded context (threads, memory, dreams…).
export const handler = middy(async (event: SQSEvent) => {
  grade ??= createGraderHandler(await awsStepDeps(withModel));
  return grade(event);
});
