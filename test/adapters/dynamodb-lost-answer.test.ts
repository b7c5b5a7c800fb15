/**
 * A conditional put whose answer is lost: the transport retries it, and DynamoDB refuses the retry
 * because of the first request, which it applied. The store must take that for success — and still
 * report a real conflict (another writer's item) as one. Between the store and dynalite sits a proxy
 * that loses the answer to a chosen request, or drops the request before it arrives; both transports
 * (signed HTTP, every Lambda function's; the AWS SDK's) retry it.
 */
import { once } from "node:events";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDbDocumentStore } from "../../shared/adapters/aws/dynamodb-document-store.js";
import { DynamoDbHttpTransport } from "../../shared/adapters/aws/dynamodb-http-transport.js";
import { type RunningDynalite, startDynalite } from "../../shared/adapters/local/dynalite-server.js";
import { ConditionFailedError, type TableName } from "../../shared/core/ports.js";

const tableNames: Record<TableName, string> = { resources: "resources", events: "events" };
const credentials = { accessKeyId: "local", secretAccessKey: "local" };

/** What the proxy does to the next PutItem whose body mentions `marker`. */
type Fault = { marker: string; kind: "lose-answer" | "drop-request"; before?: () => Promise<void> };

/**
 * An HTTP proxy to `target`: a request matching a queued fault is either forwarded and its answer
 * thrown away (the connection is cut once DynamoDB has answered), or cut before it is forwarded.
 */
async function lossyProxy(target: string) {
  const faults: Fault[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      const isPut = String(req.headers["x-amz-target"]).endsWith(".PutItem");
      const at = faults.findIndex((f) => isPut && body.includes(f.marker));
      const fault = at >= 0 ? faults.splice(at, 1)[0] : undefined;
      if (fault?.kind === "drop-request") {
        await fault.before?.();
        req.socket.destroy();
        return;
      }
      const upstream = request(target, { method: req.method, path: req.url, headers: req.headers });
      upstream.on("response", async (answer) => {
        const parts: Buffer[] = [];
        for await (const part of answer) parts.push(part as Buffer);
        if (fault?.kind === "lose-answer") {
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.statusCode ?? 500, answer.headers);
        res.end(Buffer.concat(parts));
      });
      upstream.end(body);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    fault: (f: Fault) => faults.push(f),
    pending: () => faults.length,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let dynalite: RunningDynalite;
let proxy: Awaited<ReturnType<typeof lossyProxy>>;
let sdkClient: DynamoDBClient;

beforeAll(async () => {
  dynalite = await startDynalite({});
  proxy = await lossyProxy(dynalite.endpoint);
  sdkClient = new DynamoDBClient({
    endpoint: proxy.endpoint,
    region: "us-east-1",
    credentials,
    maxAttempts: 3,
  });
});
afterAll(async () => {
  sdkClient.destroy();
  await proxy.close();
  await dynalite.close();
});

const transports = {
  "signed HTTP (the Lambda functions')": () =>
    new DynamoDbDocumentStore({
      transport: new DynamoDbHttpTransport({ region: "us-east-1", endpoint: proxy.endpoint, credentials }),
      tableNames,
    }),
  "the AWS SDK's client": () => new DynamoDbDocumentStore({ client: sdkClient, tableNames }),
};

describe.each(Object.entries(transports))("a conditional put over %s", (_name, makeStore) => {
  // Each test its own partition (dynalite's tables outlive a test).
  let n = 0;
  const key = () => `lost#${_name.length}#${Date.now()}#${n++}`;
  /** A store straight to dynalite: the other writer, and the reader that checks what is stored. */
  const direct = () => new DynamoDbDocumentStore({ client: dynalite.client, tableNames });

  it("whose answer is lost succeeds when its retry is refused by its own write (ifNotExists)", async () => {
    // Prepare
    const store = makeStore();
    const pk = key();
    proxy.fault({ marker: pk, kind: "lose-answer" });
    // Act
    await store.put("resources", { pk, sk: "a", rev: 1, note: "mine" }, { ifNotExists: true });
    // Assess: applied once, the token not part of the item, and a second create is a conflict
    expect(proxy.pending()).toBe(0);
    expect(await direct().get("resources", pk, "a")).toEqual({ pk, sk: "a", rev: 1, note: "mine" });
    await expect(
      store.put("resources", { pk, sk: "a", rev: 1, note: "again" }, { ifNotExists: true }),
    ).rejects.toBeInstanceOf(ConditionFailedError);
  });

  it("whose answer is lost succeeds when its retry is refused by its own write (expectedRev)", async () => {
    // Prepare
    const store = makeStore();
    const pk = key();
    await direct().put("resources", { pk, sk: "s", rev: 1, state: "before" }, { ifNotExists: true });
    proxy.fault({ marker: pk, kind: "lose-answer" });
    // Act
    await store.put("resources", { pk, sk: "s", rev: 2, state: "after" }, { expectedRev: 1 });
    // Assess
    expect(proxy.pending()).toBe(0);
    expect(await direct().get("resources", pk, "s")).toEqual({ pk, sk: "s", rev: 2, state: "after" });
  });

  it("still fails when another writer's item is what refused the retry", async () => {
    // Prepare: the first request never arrives; meanwhile another writer creates the item
    const store = makeStore();
    const pk = key();
    proxy.fault({
      marker: pk,
      kind: "drop-request",
      before: () => direct().put("resources", { pk, sk: "a", rev: 1, note: "theirs" }, { ifNotExists: true }),
    });
    // Act
    const putting = store.put("resources", { pk, sk: "a", rev: 1, note: "mine" }, { ifNotExists: true });
    // Assess
    await expect(putting).rejects.toBeInstanceOf(ConditionFailedError);
    expect(proxy.pending()).toBe(0);
    expect(await direct().get("resources", pk, "a")).toEqual({ pk, sk: "a", rev: 1, note: "theirs" });
  });

  it("still fails when another writer's identical item refused the retry (a rev-checked save)", async () => {
    // Prepare: the same new state, written by someone else while our first request was lost on the way
    const store = makeStore();
    const pk = key();
    await direct().put("resources", { pk, sk: "s", rev: 1, state: "before" }, { ifNotExists: true });
    proxy.fault({
      marker: pk,
      kind: "drop-request",
      before: () => direct().put("resources", { pk, sk: "s", rev: 2, state: "after" }, { expectedRev: 1 }),
    });
    // Act
    const saving = store.put("resources", { pk, sk: "s", rev: 2, state: "after" }, { expectedRev: 1 });
    // Assess
    await expect(saving).rejects.toBeInstanceOf(ConditionFailedError);
  });
});
