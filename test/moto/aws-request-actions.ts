/**
 * What an AWS request asks IAM for: the action (`dynamodb:PutItem`, `s3:GetObject`, …) and the
 * resource ARN it touches, read off the wire as IAM reads it — the signing service, the operation
 * (`X-Amz-Target`, the query's `Action`, or the REST method and path) and the parameters that name
 * the resource (`TableName`, `QueueUrl`, the S3 bucket and key, …). One request may ask for several
 * (a BatchWriteItem over two tables, an S3 copy, a CreateSchedule that passes a role). Used by
 * aws-call-recorder.ts; judged by iam-evaluator.ts.
 *
 * Only the operations Reverie's functions use are mapped precisely; any other operation of a known
 * service is named `<service>:<Operation>` on its `*` resource, and a service this file does not
 * know is named `unknown:…`, which no policy allows — so a new kind of call fails loudly, never
 * passes unseen.
 */
import { MOTO_ACCOUNT, MOTO_REGION } from "./moto-server.js";

/** One permission a request needs. */
export interface AwsAction {
  /** `service:Operation` as IAM names it. */
  action: string;
  /**
   * The resource's ARN; `*` for operations that act on none. Undefined when IAM checks a resource
   * the request does not name: the task-token calls (`states:SendTask*`) are authorized against the
   * state machine whose execution issued the token, which the token hides.
   */
  resource: string | undefined;
  /** What IAM condition keys would see (KMS's encryption context). */
  context?: { encryptionContext?: Record<string, string> };
}

/** A request as the recording proxy received it. */
export interface AwsRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const account = MOTO_ACCOUNT;
const region = MOTO_REGION;
const arnOf = (service: string, resource: string, withRegion = true) =>
  `arn:aws:${service}:${withRegion ? region : ""}:${withRegion ? account : ""}:${resource}`;

const header = (request: AwsRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** The Signature V4 service name: from the Authorization header, or a presigned URL's credential. */
export function signingServiceOf(request: AwsRequest): string | undefined {
  const credential =
    /Credential=([^,\s]+)/.exec(header(request, "authorization") ?? "")?.[1] ??
    new URL(request.url, "http://x").searchParams.get("X-Amz-Credential") ??
    undefined;
  return credential?.split("/")[3];
}

const json = (body: Buffer): Record<string, unknown> => {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
};
const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

const tableArn = (name: string) => (name.startsWith("arn:") ? name : arnOf("dynamodb", `table/${name}`));
/** `https://host/<account>/<name>` → the queue's ARN. */
export const queueArnOfUrl = (url: string) => {
  const [, owner, name] = new URL(url).pathname.split("/");
  return `arn:aws:sqs:${region}:${owner}:${name}`;
};

function dynamodb(operation: string, body: Record<string, unknown>): AwsAction[] {
  const action = `dynamodb:${operation}`;
  if (operation === "BatchWriteItem" || operation === "BatchGetItem") {
    return Object.keys((body.RequestItems as Record<string, unknown>) ?? {}).map((table) => ({
      action,
      resource: tableArn(table),
    }));
  }
  if (operation === "TransactWriteItems" || operation === "TransactGetItems") {
    // IAM authorizes each item's own action on its table.
    const kinds: Record<string, string> = {
      Put: "PutItem",
      Update: "UpdateItem",
      Delete: "DeleteItem",
      ConditionCheck: "ConditionCheckItem",
      Get: "GetItem",
    };
    return ((body.TransactItems as Array<Record<string, { TableName?: string }>>) ?? []).flatMap((item) =>
      Object.entries(item).map(([kind, op]) => ({
        action: `dynamodb:${kinds[kind] ?? kind}`,
        resource: tableArn(op.TableName ?? "?"),
      })),
    );
  }
  const table = str(body.TableName);
  if (!table) return [{ action, resource: "*" }];
  const index = str(body.IndexName);
  return [{ action, resource: index ? `${tableArn(table)}/index/${index}` : tableArn(table) }];
}

/** The SQS operations whose batch form IAM authorizes as the single one. */
const sqsBatches: Record<string, string> = {
  SendMessageBatch: "SendMessage",
  DeleteMessageBatch: "DeleteMessage",
  ChangeMessageVisibilityBatch: "ChangeMessageVisibility",
};

function sqs(operation: string, body: Record<string, unknown>): AwsAction[] {
  const queueUrl = str(body.QueueUrl);
  return [
    {
      action: `sqs:${sqsBatches[operation] ?? operation}`,
      resource: queueUrl ? queueArnOfUrl(queueUrl) : "*",
    },
  ];
}

function kms(operation: string, body: Record<string, unknown>): AwsAction[] {
  const keyId = str(body.KeyId) ?? str(body.DestinationKeyId);
  const resource = !keyId
    ? "*"
    : keyId.startsWith("arn:")
      ? keyId
      : keyId.startsWith("alias/")
        ? arnOf("kms", keyId)
        : arnOf("kms", `key/${keyId}`);
  const encryptionContext = body.EncryptionContext as Record<string, string> | undefined;
  return [{ action: `kms:${operation}`, resource, context: { encryptionContext: encryptionContext ?? {} } }];
}

function states(operation: string, body: Record<string, unknown>): AwsAction[] {
  const action = `states:${operation}`;
  if (operation === "CreateStateMachine") {
    const name = str(body.name) ?? "?";
    const out: AwsAction[] = [{ action, resource: arnOf("states", `stateMachine:${name}`) }];
    const role = str(body.roleArn);
    if (role) out.push({ action: "iam:PassRole", resource: role });
    return out;
  }
  if (operation.startsWith("SendTask")) return [{ action, resource: undefined }];
  const resource = str(body.stateMachineArn) ?? str(body.executionArn) ?? "*";
  return [{ action, resource }];
}

function events(operation: string, body: Record<string, unknown>): AwsAction[] {
  if (operation !== "PutEvents") return [{ action: `events:${operation}`, resource: "*" }];
  const buses = new Set(
    ((body.Entries as Array<{ EventBusName?: string }>) ?? []).map((e) => e.EventBusName ?? "default"),
  );
  return [...buses].map((bus) => ({
    action: "events:PutEvents",
    resource: bus.startsWith("arn:") ? bus : arnOf("events", `event-bus/${bus}`),
  }));
}

function secretsManager(operation: string, body: Record<string, unknown>): AwsAction[] {
  const id = str(body.SecretId);
  return [
    {
      action: `secretsmanager:${operation}`,
      resource: !id ? "*" : id.startsWith("arn:") ? id : arnOf("secretsmanager", `secret:${id}`),
    },
  ];
}

/** EventBridge Scheduler's REST API: `/schedules/{Name}` (groupName in the body or the query). */
function scheduler(request: AwsRequest, body: Record<string, unknown>): AwsAction[] {
  const url = new URL(request.url, "http://x");
  const [, collection, rawName] = url.pathname.split("/");
  const method = request.method.toUpperCase();
  if (collection !== "schedules" || !rawName) {
    return [{ action: `scheduler:${method} /${collection ?? ""}`, resource: "*" }];
  }
  const name = decodeURIComponent(rawName);
  const group = str(body.GroupName) ?? url.searchParams.get("groupName") ?? "default";
  const operation = {
    POST: "CreateSchedule",
    PUT: "UpdateSchedule",
    GET: "GetSchedule",
    DELETE: "DeleteSchedule",
  }[method];
  const out: AwsAction[] = [
    { action: `scheduler:${operation ?? method}`, resource: arnOf("scheduler", `schedule/${group}/${name}`) },
  ];
  // A schedule's target runs as the role it names: creating or changing one passes that role.
  const role = str((body.Target as { RoleArn?: unknown } | undefined)?.RoleArn);
  if (role && (operation === "CreateSchedule" || operation === "UpdateSchedule")) {
    out.push({ action: "iam:PassRole", resource: role });
  }
  return out;
}

/** The Lambda Invoke API: `POST /2015-03-31/functions/{name}/invocations`. */
function lambda(request: AwsRequest): AwsAction[] {
  const url = new URL(request.url, "http://x");
  const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
  if (!match) return [{ action: `lambda:${request.method} ${url.pathname}`, resource: "*" }];
  const name = decodeURIComponent(match[1] as string);
  const qualifier = url.searchParams.get("Qualifier");
  const arn = name.startsWith("arn:") ? name : arnOf("lambda", `function:${name}`);
  return [{ action: "lambda:InvokeFunction", resource: qualifier ? `${arn}:${qualifier}` : arn }];
}

/** S3's REST API, path-style (`/bucket/key`) as the SDK sends it to an IP endpoint, or virtual-hosted. */
function s3(request: AwsRequest): AwsAction[] {
  const url = new URL(request.url, "http://x");
  const host = (header(request, "host") ?? "").split(":")[0] ?? "";
  const virtualBucket = /^(\d+\.){3}\d+$|^localhost$/.test(host) ? undefined : host.split(".")[0];
  const segments = url.pathname.split("/").slice(1);
  const bucket = virtualBucket ?? decodeURIComponent(segments.shift() ?? "");
  const key = segments.map(decodeURIComponent).join("/");
  const q = url.searchParams;
  const method = request.method.toUpperCase();
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const objectArn = `${bucketArn}/${key}`;
  const one = (action: string, resource = objectArn): AwsAction[] => [{ action: `s3:${action}`, resource }];
  if (!key) {
    if (method === "GET" && q.has("versions")) return one("ListBucketVersions", bucketArn);
    if (method === "GET" && q.has("uploads")) return one("ListBucketMultipartUploads", bucketArn);
    if (method === "GET" || method === "HEAD") return one("ListBucket", bucketArn);
    if (method === "POST" && q.has("delete")) {
      // DeleteObjects: s3:DeleteObject on every key it names.
      const keys = [...request.body.toString("utf8").matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) =>
        (m[1] as string).replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">"),
      );
      return keys.map((k) => ({ action: "s3:DeleteObject", resource: `${bucketArn}/${k}` }));
    }
    return one(`${method} bucket`, bucketArn);
  }
  const version = q.has("versionId");
  if (method === "GET" || method === "HEAD") {
    if (q.has("uploadId")) return one("ListMultipartUploadParts");
    if (q.has("tagging")) return one(version ? "GetObjectVersionTagging" : "GetObjectTagging");
    if (q.has("acl")) return one(version ? "GetObjectVersionAcl" : "GetObjectAcl");
    return one(version ? "GetObjectVersion" : "GetObject");
  }
  if (method === "PUT") {
    if (q.has("tagging")) return one(version ? "PutObjectVersionTagging" : "PutObjectTagging");
    if (q.has("acl")) return one(version ? "PutObjectVersionAcl" : "PutObjectAcl");
    const copySource = header(request, "x-amz-copy-source");
    const out = one("PutObject");
    if (copySource) {
      const [source = "", query = ""] = decodeURIComponent(copySource).replace(/^\//, "").split("?");
      out.push({
        action: query.includes("versionId=") ? "s3:GetObjectVersion" : "s3:GetObject",
        resource: `arn:aws:s3:::${source}`,
      });
    }
    return out;
  }
  if (method === "POST") return one("PutObject"); // multipart create and complete
  if (method === "DELETE") {
    if (q.has("uploadId")) return one("AbortMultipartUpload");
    if (q.has("tagging")) return one("DeleteObjectTagging");
    return one(version ? "DeleteObjectVersion" : "DeleteObject");
  }
  return one(`${method} object`);
}

/** The JSON-protocol services, by their `X-Amz-Target` prefix. */
const jsonTargets: Record<string, (operation: string, body: Record<string, unknown>) => AwsAction[]> = {
  DynamoDB_20120810: dynamodb,
  AmazonSQS: sqs,
  TrentService: kms,
  AWSStepFunctions: states,
  AWSEvents: events,
  secretsmanager: secretsManager,
};

/** The IAM permissions `request` needs. */
export function actionsOfRequest(request: AwsRequest): AwsAction[] {
  const service = signingServiceOf(request);
  const target = header(request, "x-amz-target");
  if (target) {
    const [prefix = "", operation = ""] = target.split(".");
    const parse = jsonTargets[prefix];
    if (parse) return parse(operation, json(request.body));
    return [{ action: `${service ?? "unknown"}:${operation || target}`, resource: "*" }];
  }
  if (service === "s3") return s3(request);
  if (service === "scheduler") return scheduler(request, json(request.body));
  if (service === "lambda" || request.url.startsWith("/2015-03-31/functions/")) return lambda(request);
  // The query protocol (SNS, and SQS's older clients): `Action=…&…` in a form body.
  const form = new URLSearchParams(request.body.toString("utf8"));
  const operation = form.get("Action");
  if (service === "sns" && operation) {
    const topic = form.get("TopicArn") ?? form.get("TargetArn");
    return [{ action: `sns:${operation}`, resource: topic ?? "*" }];
  }
  if (service === "sqs" && operation) {
    const queueUrl = form.get("QueueUrl");
    return sqs(operation, queueUrl ? { QueueUrl: queueUrl } : {});
  }
  return [
    {
      action: `unknown:${service ?? "unsigned"} ${request.method} ${new URL(request.url, "http://x").pathname}`,
      resource: "*",
    },
  ];
}
