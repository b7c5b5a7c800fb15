/**
 * `npx tsx test/moto/start-aws-on-moto.ts`: the AWS-on-moto stack to poke at by hand — point the SDK
 * (or curl) at the printed URL with the printed key. The model is Anthropic's API when
 * ANTHROPIC_API_KEY is set (stored in the stack's Secrets Manager secret, as on AWS), else a mock
 * Messages server that answers every call with a short text. Ctrl-C stops everything. moto runs one
 * Step Functions execution per state machine, so one multiagent fan-out per start (docs/aws-on-moto.md).
 */
import { mockText, startMockMessagesServer } from "../fixtures/mock-messages-server.js";
import { startAwsOnMoto } from "./aws-on-moto-stack.js";

const realKey = process.env.ANTHROPIC_API_KEY;
const upstream = realKey
  ? undefined
  : await startMockMessagesServer({
      fallback: mockText("ok (mock model: set ANTHROPIC_API_KEY for a real one)"),
    });
const aws = await startAwsOnMoto({
  anthropicBaseUrl: upstream?.url ?? process.env.ANTHROPIC_BASE_URL ?? "https://api.anthropic.com",
  anthropicApiKey: realKey,
});
process.stdout.write(
  [
    "Reverie on moto",
    `  url      ${aws.url}`,
    `  api key  ${aws.apiKey}`,
    `  moto     ${aws.moto.endpoint}`,
    `  model    ${upstream ? `mock Messages server at ${upstream.url}` : "Anthropic API"}`,
    "",
  ].join("\n"),
);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await aws.stop();
  await upstream?.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
