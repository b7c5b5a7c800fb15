/**
 * The web console's files on AWS (API Gateway `GET /console`, `GET /console/{proxy+}`, no
 * authorizer: the page asks for an API key and sends it to the API itself). The assets are built at
 * synth and shipped beside this handler (shared/console/console-assets.ts); nothing else is loaded.
 */
import { readFileSync } from "node:fs";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { type ConsoleAssets, serveConsoleAsset } from "../shared/console/console-http.js";

const assets = JSON.parse(
  readFileSync(new URL("./console-assets.json", import.meta.url), "utf8"),
) as ConsoleAssets;

export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const headers = Object.fromEntries(
    Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  );
  const answer = serveConsoleAsset(assets, event.httpMethod, event.path, headers["if-none-match"]);
  return { statusCode: answer.status, headers: answer.headers, body: answer.body };
}
