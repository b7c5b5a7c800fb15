/**
 * `ReverieConsole`: the web console (issue 14) on the Reverie REST API, at `<stage>/console/`, served
 * by a small function of its own — `GET /console` and `GET /console/{proxy+}` with no authorizer (the
 * page asks for an API key and sends it to the API in `x-api-key`). Same origin as the API, so the
 * browser needs no CORS and the key never crosses origins; the assets are built at synth with esbuild
 * and shipped beside the handler, never bundled into the api function (docs/console.md says why not
 * S3 and CloudFront).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as apigw from "aws-cdk-lib/aws-apigateway";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import * as esbuild from "esbuild";
import { buildConsoleFunctionFiles } from "../../shared/console/console-assets.js";

export interface ReverieConsoleProps {
  /** The API the console is added to (and talks to). */
  readonly api: apigw.RestApi;
  readonly logRetention?: logs.RetentionDays;
  readonly removalPolicy?: RemovalPolicy;
}

/** Writes the console function's code (handler + assets) to a fresh directory and returns it. */
function consoleCodeDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), "reverie-console-"));
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(buildConsoleFunctionFiles(esbuild)))
    writeFileSync(join(dir, name), text);
  return dir;
}

export class ReverieConsole extends Construct {
  readonly function: lambda.Function;
  /** The console's path on the API (append it to the stage URL). */
  readonly path = "console/";

  constructor(scope: Construct, id: string, props: ReverieConsoleProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Its own role: its log group and X-Ray, nothing else (it reads no table, queue or secret).
    const role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "Reverie console function",
    });
    logGroup.grantWrite(role);
    this.function = new lambda.Function(this, "Function", {
      description: "Reverie web console (static files)",
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: "index.handler",
      code: lambda.Code.fromAsset(consoleCodeDirectory()),
      memorySize: 256,
      timeout: Duration.seconds(10),
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
    });
    Validations.of(role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "Only the X-Ray actions added by Tracing.ACTIVE (xray:PutTraceSegments, xray:PutTelemetryRecords) use Resource '*': X-Ray has no resource-level permissions.",
    });
    Validations.of(this.function).acknowledge({
      id: "Serverless-LambdaDLQ",
      reason:
        "Invoked synchronously by API Gateway only; there is no asynchronous invocation to dead-letter.",
    });

    const integration = new apigw.LambdaIntegration(this.function, {
      proxy: true,
      scopePermissionToMethod: false,
    });
    const root = props.api.root.addResource("console");
    const open = { authorizationType: apigw.AuthorizationType.NONE };
    const methods = [
      root.addMethod("GET", integration, open),
      root.addResource("{proxy+}").addMethod("GET", integration, {
        ...open,
        requestParameters: { "method.request.path.proxy": true },
      }),
    ];
    for (const method of methods)
      for (const ruleId of ["AwsSolutions-APIG4", "AwsSolutions-COG4"])
        Validations.of(method).acknowledge({
          id: ruleId,
          reason:
            "The console's static files are public (no data in them); every API call the page makes carries the user's key and goes through the authorizer.",
        });
  }
}
