/**
 * The AWS path, run over the wire: Reverie's Lambda functions, bundled as CDK bundles them and
 * composed as the stack composes them, against moto in server mode — real DynamoDB condition
 * expressions, SQS receives and deletes, S3 puts and presigned URLs, SNS, EventBridge, EventBridge
 * Scheduler, a Step Functions execution calling back with task tokens, and the Anthropic key from
 * Secrets Manager — driven by the official SDK through an API Gateway front, with the mock Messages
 * server as the model. docs/aws-on-moto.md says what differs from AWS.
 *
 * Needs moto's server (`pip install 'moto[server]'`); without it every test here fails saying so,
 * unless REVERIE_SKIP_MOTO=1.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Anthropic, { toFile } from "@anthropic-ai/sdk";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { GetScheduleCommand, ListSchedulesCommand } from "@aws-sdk/client-scheduler";
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
} from "@aws-sdk/client-sfn";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { simulatedDreamerTurn } from "../../shared/adapters/model/simulated-dreamer.js";
import { DREAMER_MARKER } from "../../shared/core/dreams/dreamer-agent.js";
import type { ModelRequest } from "../../shared/core/ports.js";
import { loadConfig } from "../../shared/runtime/config.js";
import { type McpTestServer, startMcpTestServer } from "../fixtures/mcp-test-server.js";
import {
  type MockMessagesServer,
  type MockRequestBody,
  type MockResponse,
  mockText,
  mockToolUse,
  type ReceivedRequest,
  startMockMessagesServer,
} from "../fixtures/mock-messages-server.js";
import { rejection } from "../fixtures/sdk-assertions.js";
import { type AwsOnMoto, startAwsOnMoto } from "./aws-on-moto-stack.js";
import { deniedCalls, describeDenied } from "./iam-evaluator.js";
import { functionPolicies } from "./iam-policies.js";
import type { InvokeOutcome } from "./lambda-service.js";
import { motoSkipped } from "./moto-server.js";
import { SqsEventSource } from "./sqs-event-source.js";

type Event = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;

let upstream: MockMessagesServer;
let aws: AwsOnMoto;
let client: Anthropic;
let receiver: Server;
let receiverUrl: string;
let mcp: McpTestServer;
const MCP_TOKEN = "mcp-bearer-on-moto";
const hooks: Array<{ body: string; headers: Record<string, string> }> = [];

const agentReplies: MockResponse[] = [];
const graderReplies: MockResponse[] = [];
/** How each multiagent worker answers (by the name in its system prompt). */
const workerReply: (name: string) => MockResponse = (name) => mockText(`${name} did it`);
let coordinatorCalls: Array<{ name: string; input: unknown }> = [];
/** The plan a workflow lead starts: two phases, a parallel step, a map over literal items. */
const workflowPlan = {
  name: "On moto",
  phases: [
    {
      name: "Both",
      steps: [
        {
          type: "parallel",
          id: "both",
          branches: [
            [{ type: "agent", id: "a", agent: "alpha", input: "part A" }],
            [{ type: "agent", id: "b", agent: "beta", input: "part B" }],
          ],
        },
      ],
    },
    {
      name: "Each",
      steps: [{ type: "map", id: "each", agent: "alpha", items: ["1", "2"], input: "item {{item}}" }],
    },
  ],
  result: ["a", "b", "each"],
};

const systemOf = (body: MockRequestBody) =>
  Array.isArray(body.system) ? body.system.map((b) => b.text).join("") : String(body.system ?? "");
const isGrader = (body: MockRequestBody) =>
  (body.tool_choice as { name?: string } | undefined)?.name === "submit_grade";
const hasToolResults = (body: MockRequestBody) => {
  const content = body.messages.at(-1)?.content;
  return Array.isArray(content) && content.some((b) => b.type === "tool_result");
};

/** One scripted model for every caller: the agent, the grader, the dreamer, coordinators and their workers. */
function answer(request: ReceivedRequest): MockResponse {
  const { body } = request;
  const system = systemOf(body);
  if (isGrader(body)) return graderReplies.shift() ?? satisfied();
  if (system.includes(DREAMER_MARKER))
    return {
      content: simulatedDreamerTurn(body as unknown as ModelRequest, "[dreamer]").map((b) =>
        b.type === "tool_use" ? { type: "tool_use" as const, name: b.name, input: b.input } : b,
      ),
    };
  if (system.startsWith("COORDINATOR")) {
    if (hasToolResults(body)) return mockText("summary done");
    const calls = coordinatorCalls;
    coordinatorCalls = [];
    return { content: calls.map((c) => ({ type: "tool_use" as const, name: c.name, input: c.input })) };
  }
  if (system.startsWith("WFLEAD")) {
    const last = body.messages.at(-1)?.content;
    const text = Array.isArray(last)
      ? last.map((b) => ("text" in b && typeof b.text === "string" ? b.text : "")).join("")
      : String(last ?? "");
    if (/Workflow run wfrun_\S+ \(".*"\) completed/.test(text)) return mockText("final answer");
    if (hasToolResults(body)) return mockText("waiting for the run");
    return mockToolUse("start_workflow_run", workflowPlan);
  }
  if (system.startsWith("WORKER ")) return workerReply(system.slice("WORKER ".length));
  return agentReplies.shift() ?? mockText("ok");
}

const satisfied = () =>
  mockToolUse("submit_grade", {
    rubric_applies: true,
    criteria: [{ index: 0, satisfied: true, finding: "the totals are there" }],
    explanation: "The report states the totals.",
  });

const say = (text: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text }] });

/** The stack's logs and failed deliveries, appended to an assertion that failed. */
async function explained<T>(what: Promise<T>): Promise<T> {
  try {
    return await what;
  } catch (error) {
    const failures = aws.failures.map((f) => `${f.queue}: ${JSON.stringify(f.outcome)}`).join("\n");
    (error as Error).message += `\n\nfailed deliveries:\n${failures || "none"}\n\n${aws.logs()}`;
    throw error;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (aws.failures.length > 0) throw new Error(`a delivery failed while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Waits until nothing is queued or running anywhere and the session is idle. The queues are looked at
 * first (moto only), so the API is asked once the stack has gone quiet rather than on every poll.
 */
function waitIdle(sessionId: string, timeoutMs = 90_000) {
  return explained(
    until(
      `session ${sessionId} to go idle`,
      async () => {
        if (!(await aws.settled())) return undefined;
        const session = await client.beta.sessions.retrieve(sessionId);
        return session.status === "idle" || session.status === "terminated" ? session : undefined;
      },
      timeoutMs,
    ),
  );
}

async function allEvents(sessionId: string): Promise<Event[]> {
  const out: Event[] = [];
  for await (const event of client.beta.sessions.events.list(sessionId, { limit: 100 })) out.push(event);
  return out;
}

async function cloudSetup(extra: Partial<Anthropic.Beta.Agents.AgentCreateParams> = {}) {
  const environment = await client.beta.environments.create({
    name: `moto-${Date.now()}`,
    // The stack deploys the open sandbox function only (no isolated VPC): bash needs unrestricted networking.
    config: { type: "cloud", networking: { type: "unrestricted" } },
  });
  const agent = await client.beta.agents.create({
    name: "moto-tester",
    model: "claude-sonnet-4-6",
    system: "You are a careful test agent.",
    tools: [{ type: "agent_toolset_20260401" }],
    ...extra,
  });
  return { environmentId: environment.id, agentId: agent.id };
}

/** Reads a probe queue (deleting what it reads) until a message body satisfies `wanted`. */
async function fromProbe<T>(queueUrl: string, parse: (body: string) => T, wanted: (message: T) => boolean) {
  return until(`a message on ${queueUrl}`, async () => {
    const { Messages = [] } = await aws.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    let found: T | undefined;
    for (const m of Messages) {
      const message = parse(m.Body ?? "");
      if (found === undefined && wanted(message)) found = message;
      await aws.clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }),
      );
    }
    return found;
  });
}

/** Reverie's webhook event types are its own; the SDK's param type names Anthropic's. */
const enabledEvents = (types: string[]) =>
  types as Anthropic.Beta.Organization.WebhookCreateParams["enabled_events"];

const flat = (headers: IncomingHttpHeaders) =>
  Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : String(v)]),
  );

// Generous bounds: inside a full `npm test` on two busy cores a turn on moto can take many times
// its usual second or two; passing tests do not wait for them.
describe.skipIf(motoSkipped())("Reverie on AWS, with moto as AWS", { timeout: 180_000 }, () => {
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        hooks.push({ body: Buffer.concat(chunks).toString("utf8"), headers: flat(req.headers) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    upstream = await startMockMessagesServer({ fallback: answer });
    mcp = await startMcpTestServer({ tokens: [MCP_TOKEN] });
    aws = await startAwsOnMoto({
      anthropicBaseUrl: upstream.url,
      environment: {
        // The webhook receiver and the MCP server listen on loopback.
        REVERIE_WEBHOOK_ALLOW_PRIVATE: "1",
        REVERIE_WEB_FETCH_ALLOW_PRIVATE: "1",
        REVERIE_GRADER_HEARTBEAT_SECONDS: "0.5",
        // A retried model call waits 0–1 s, rounded up to SQS's whole seconds: a real DelaySeconds.
        REVERIE_MODEL_RETRY_BASE_SECONDS: "1",
      },
    });
    client = new Anthropic({ baseURL: aws.url, apiKey: aws.apiKey, maxRetries: 0 });
  }, 240_000);

  afterAll(async () => {
    if (process.env.REVERIE_MOTO_VERBOSE === "1" && aws) {
      // Where the time went: the start's phases, and each function's cold starts and invocations.
      console.log("startup (ms since start)", aws.startup);
      for (const [name, f] of aws.functions) console.log(name, f.coldStarts, f.invocations);
      const warnings = aws
        .logs()
        .split("\n")
        .filter((line) => /"level":"(WARN|ERROR)"/.test(line));
      console.log(`warnings and errors logged by the functions:\n${warnings.join("\n")}`);
    }
    await aws?.stop();
    await upstream?.close();
    await mcp?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  beforeEach(() => {
    agentReplies.length = 0;
    graderReplies.length = 0;
  });

  it("refuses an unknown key at the authorizer and serves a known one", async () => {
    const stranger = new Anthropic({ baseURL: aws.url, apiKey: "sk-ant-not-a-key", maxRetries: 0 });
    await rejection(stranger.beta.agents.list(), Anthropic.AuthenticationError);
    const created = await explained(client.beta.agents.create({ name: "a", model: "claude-sonnet-4-6" }));
    expect(created.id).toMatch(/^agent_/);
    expect((await client.beta.agents.retrieve(created.id)).name).toBe("a");
  });

  it("runs a session turn: file tools write S3, bash runs in the sandbox function, api-stream streams it", async () => {
    const { agentId, environmentId } = await cloudSetup();
    const session = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    agentReplies.push(
      mockToolUse("write", { file_path: "/workspace/notes.md", content: "hello from moto\n" }),
      mockToolUse("bash", { command: "cat /workspace/notes.md; echo from-bash > /workspace/out.txt" }),
      mockText("all done"),
    );
    const requestsBefore = upstream.received.length;
    const stream = await client.beta.sessions.events.stream(session.id);
    const streamed = (async () => {
      const seen: string[] = [];
      for await (const event of stream) {
        seen.push(event.type);
        if (event.type === "session.status_idle") break;
      }
      return seen;
    })();
    await client.beta.sessions.events.send(session.id, { events: [say("write a note, then run it")] });
    await waitIdle(session.id);
    const seen = await explained(streamed);

    expect(seen).toEqual(expect.arrayContaining(["agent.tool_use", "agent.tool_result", "agent.message"]));
    expect(seen.at(-1)).toBe("session.status_idle");
    const results = (await allEvents(session.id)).filter(
      (e): e is Extract<Event, { type: "agent.tool_result" }> => e.type === "agent.tool_result",
    );
    const texts = results.map((r) =>
      (r.content ?? []).map((b) => (b.type === "text" ? b.text : "")).join(""),
    );
    expect(results.map((r) => r.is_error ?? false)).toEqual([false, false]);
    expect(texts[1]).toContain("hello from moto");
    // The model saw bash's output as the tool result of its third call.
    const third = upstream.received[requestsBefore + 2];
    expect(JSON.stringify(third?.body.messages.at(-1))).toContain("hello from moto");

    // Both files are objects in the workspace bucket: one put by the file tool, one by the sandbox's changes.
    const { Contents = [] } = await aws.clients.s3.send(
      new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: "workspaces/" }),
    );
    const keys = Contents.map((o) => o.Key as string);
    const outKey = keys.find((k) => k.endsWith("/out.txt")) as string;
    expect(keys.some((k) => k.endsWith("/notes.md"))).toBe(true);
    const out = await aws.clients.s3.send(
      new GetObjectCommand({ Bucket: aws.resources.bucket, Key: outKey }),
    );
    expect(await out.Body?.transformToString()).toBe("from-bash\n");
    // Transfer objects are deleted after each call; the shell state is kept for the next one.
    const { Contents: transfers = [] } = await aws.clients.s3.send(
      new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: "sandbox-transfer/" }),
    );
    expect(transfers).toEqual([]);
    expect(aws.fn("sandbox").invocations.started).toBeGreaterThanOrEqual(1);
  });

  it("delivers every step twice at once and still records each event once (conditional writes on DynamoDB)", async () => {
    const { agentId, environmentId } = await cloudSetup();
    const session = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    agentReplies.push(
      mockToolUse("write", { file_path: "/workspace/twice.md", content: "once\n" }),
      mockToolUse("read", { file_path: "/workspace/twice.md" }),
      mockText("read it back"),
    );
    const steps = aws.eventSources["agent-steps"];
    const batchesBefore = steps.stats.batches;
    const requestsBefore = upstream.received.length;
    steps.duplicateDeliveries = true;
    try {
      await client.beta.sessions.events.send(session.id, { events: [say("write, then read")] });
      await waitIdle(session.id);
    } finally {
      steps.duplicateDeliveries = false;
    }
    expect(steps.stats.batches - batchesBefore).toBeGreaterThanOrEqual(3);
    const events = await allEvents(session.id);
    const count = (type: string) => events.filter((e) => e.type === type).length;
    expect(count("user.message")).toBe(1);
    expect(count("agent.tool_use")).toBe(2);
    expect(count("agent.tool_result")).toBe(2);
    expect(count("agent.message")).toBe(1);
    expect(count("session.status_idle")).toBe(1);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    // The step's lease (a conditional write) lets one of the two copies call the model; only a step
    // that failed and was retried (a session.error event says so) may call it again.
    const retried = events.filter((e) => e.type === "session.error");
    expect(upstream.received.length - requestsBefore, JSON.stringify(retried)).toBe(3 + retried.length);
  });

  it("writes and reads memory with content_sha256 preconditions (DynamoDB conditional writes)", async () => {
    const store = await explained(client.beta.memoryStores.create({ name: "moto-memory" }));
    const memories = client.beta.memoryStores.memories;
    const first = await memories.create(store.id, { path: "/notes/team.md", content: "Ada owns billing.\n" });
    const second = await memories.update(first.id, {
      memory_store_id: store.id,
      content: "Ada and Grace own billing.\n",
      precondition: { type: "content_sha256", content_sha256: first.content_sha256 },
    });
    expect(second.content_sha256).not.toBe(first.content_sha256);
    await rejection(
      memories.update(first.id, {
        memory_store_id: store.id,
        content: "a stale edit",
        precondition: { type: "content_sha256", content_sha256: first.content_sha256 },
      }),
      Anthropic.ConflictError,
    );
    // Two writers racing on one precondition: exactly one wins.
    const race = await Promise.allSettled(
      ["writer one", "writer two"].map((content) =>
        memories.update(first.id, {
          memory_store_id: store.id,
          content,
          precondition: { type: "content_sha256", content_sha256: second.content_sha256 },
        }),
      ),
    );
    expect(race.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const loser = race.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(loser.reason).toBeInstanceOf(Anthropic.ConflictError);

    const current = await memories.retrieve(first.id, { memory_store_id: store.id });
    expect(["writer one", "writer two"]).toContain(current.content);
    await memories.create(store.id, { path: "/notes/build.md", content: "Run npm test.\n" });
    const listed: string[] = [];
    for await (const item of memories.list(store.id)) if (item.type === "memory") listed.push(item.path);
    expect(listed.sort()).toEqual(["/notes/build.md", "/notes/team.md"]);
    const versions = (await client.get(`/v1/memory_stores/${store.id}/memory_versions`, {
      query: { memory_id: first.id },
    })) as { data: unknown[] };
    expect(versions.data).toHaveLength(3);
  });

  it("grades an outcome satisfied: grader function, SNS, EventBridge and a signed webhook", async () => {
    const endpoint = await explained(
      client.beta.organization.webhooks.create({
        url: receiverUrl,
        enabled_events: enabledEvents(["session.outcome_evaluation_ended"]),
      }),
    );
    const { agentId, environmentId } = await cloudSetup();
    const session = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    agentReplies.push(
      mockToolUse("write", {
        file_path: "/workspace/report.md",
        content: "Revenue 10, costs 4, totals 6.\n",
      }),
      mockText("The report is in report.md."),
    );
    graderReplies.push(satisfied());
    const sent = await client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: "user.define_outcome",
          description: "Write a report to report.md",
          rubric: { type: "text", content: "- The report states the totals" },
        },
      ],
    });
    const outcomeId = (sent.data?.[0] as { outcome_id?: string } | undefined)?.outcome_id as string;
    await waitIdle(session.id);
    const events = await allEvents(session.id);
    const end = events.find((e) => e.type === "span.outcome_evaluation_end") as
      | Anthropic.Beta.Sessions.Events.BetaManagedAgentsSpanOutcomeEvaluationEndEvent
      | undefined;
    expect(end).toMatchObject({ result: "satisfied", outcome_id: outcomeId });
    expect(upstream.requests.filter(isGrader).length).toBeGreaterThanOrEqual(1);

    // SNS delivered the notification to its SQS subscriber, attributes and all.
    const notification = await fromProbe(
      aws.resources.probes.notifications,
      (b) =>
        JSON.parse(b) as {
          Subject: string;
          Message: string;
          MessageAttributes: Record<string, { Value: string }>;
        },
      (n) => n.MessageAttributes.session?.Value === session.id,
    );
    expect(notification.Subject).toBe(`Outcome ${outcomeId} satisfied`);
    expect(notification.MessageAttributes.outcome?.Value).toBe(outcomeId);
    expect(JSON.parse(notification.Message)).toMatchObject({ type: "session.outcome_evaluation_ended" });

    // The bus's rule delivered the domain event to its target.
    const busEvent = await fromProbe(
      aws.resources.probes.busEvents,
      (b) => JSON.parse(b) as { source: string; "detail-type": string; detail: { id?: string } },
      (e) => e["detail-type"] === "session.outcome_evaluation_ended" && e.detail.id === session.id,
    );
    expect(busEvent.source).toBe("reverie");

    // The webhook went through the webhooks queue and webhook-deliver, signed.
    const hook = await until("the webhook", async () =>
      hooks.find((h) => h.body.includes("session.outcome_evaluation_ended") && h.body.includes(session.id)),
    );
    const unwrapped = client.beta.webhooks.unwrap(hook.body, {
      headers: hook.headers,
      key: endpoint.signing_secret,
    });
    expect(unwrapped.data).toMatchObject({ type: "session.outcome_evaluation_ended", id: session.id });
    await client.beta.organization.webhooks.delete(endpoint.id);
  });

  // Before the fan-out: moto 5.2.1 deep-copies every state machine with its executions on each
  // StartExecution, and a finished execution's lock cannot be copied (docs/aws-on-moto.md). A workflow
  // run's machine is deleted when the run ends, so the fan-out's start that follows copies nothing of it.
  it("runs a workflow run's compiled plan as its own Step Functions state machine, then deletes it", async () => {
    const environment = await client.beta.environments.create({ name: "moto-workflow" });
    const worker = (name: string) =>
      client.beta.agents.create({ name, model: "claude-haiku-4-5", system: `WORKER ${name}` });
    const [alpha, beta] = await Promise.all([worker("alpha"), worker("beta")]);
    const lead = await client.beta.agents.create({
      name: "wflead",
      model: "claude-sonnet-4-6",
      system: "WFLEAD",
      multiagent: {
        type: "multiagent_20261001",
        subagents: { type: "disabled" },
        workflows: { type: "enabled", predefined_agents: [alpha.id, beta.id] },
      },
    });
    const session = await client.beta.sessions.create({ agent: lead.id, environment_id: environment.id });
    const before = upstream.received.length;
    await client.beta.sessions.events.send(session.id, { events: [say("run the plan")] });
    // The run is background work: the session idles while it runs, so wait for the lead's last answer.
    const events = await explained(
      until(
        "the workflow run's result to reach the lead",
        async () => {
          const all = await allEvents(session.id);
          const final = all.some(
            (e) =>
              e.type === "agent.message" &&
              e.content.some((b) => b.type === "text" && b.text === "final answer"),
          );
          return final ? all : undefined;
        },
        90_000,
      ),
    );
    const runId = (events.find((e) => e.type === "workflow_run.created") as { workflow_run_id: string })
      .workflow_run_id;
    expect(events.find((e) => e.type === "workflow_run.status_ended")).toMatchObject({
      workflow_run_id: runId,
      result: { type: "completed" },
    });
    expect(events.filter((e) => e.type === "workflow_run.phase_started")).toHaveLength(2);
    const created = events.filter((e) => e.type === "session.thread_created");
    expect(created).toHaveLength(4);
    expect(created.every((e) => (e as { workflow_run_id: string | null }).workflow_run_id === runId)).toBe(
      true,
    );
    const result = upstream.received
      .slice(before)
      .map((r) => r.body.messages.at(-1)?.content)
      .map((c) =>
        Array.isArray(c) ? c.map((b) => ("text" in b ? String(b.text) : "")).join("") : String(c ?? ""),
      )
      .find((t) => t.includes(`Workflow run ${runId}`) && t.includes("completed"));
    expect(result).toContain("## a\nalpha did it");
    expect(result).toContain("## b\nbeta did it");
    expect(result).toContain("[2] alpha did it");
    // The run's machine was created under the deployment's prefix, ran to the end, and is gone.
    const { stateMachines = [] } = await aws.clients.sfn.send(new ListStateMachinesCommand({}));
    expect(stateMachines.filter((m) => m.name?.startsWith("reverie-moto-wf-"))).toEqual([]);
  });

  // The only fan-out of this file: moto 5.2.1 starts one execution per state machine (a second
  // StartExecution fails with a 500; docs/aws-on-moto.md).
  it("fans a coordinator out to two threads through a Step Functions execution", async () => {
    const environment = await client.beta.environments.create({ name: "moto-fanout" });
    const worker = (name: string) =>
      client.beta.agents.create({ name, model: "claude-haiku-4-5", system: `WORKER ${name}` });
    const [alpha, beta] = await Promise.all([worker("alpha"), worker("beta")]);
    const coordinator = await client.beta.agents.create({
      name: "lead",
      model: "claude-sonnet-4-6",
      system: "COORDINATOR",
      multiagent: { type: "coordinator", agents: [alpha.id, beta.id] },
    });
    const session = await client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environment.id,
    });
    coordinatorCalls = [
      { name: "send_to_agent", input: { agent_name: "alpha", message: "task A" } },
      { name: "send_to_agent", input: { agent_name: "beta", message: "task B" } },
    ];
    const before = upstream.received.length;
    await client.beta.sessions.events.send(session.id, { events: [say("split the work")] });
    await waitIdle(session.id);

    const calls = upstream.received.slice(before);
    const resumed = calls.filter((r) => systemOf(r.body) === "COORDINATOR" && hasToolResults(r.body));
    expect(resumed).toHaveLength(1);
    const results = (resumed[0]?.body.messages.at(-1)?.content ??
      []) as Anthropic.Messages.ToolResultBlockParam[];
    const texts = results.map((b) =>
      Array.isArray(b.content)
        ? b.content.map((x) => (x.type === "text" ? x.text : "")).join("")
        : String(b.content),
    );
    expect(texts.sort()).toEqual(["alpha did it", "beta did it"]);
    expect(results.every((b) => !b.is_error)).toBe(true);

    // moto ran the very state machine CDK deploys, to the end. Only the happy path runs here: moto's
    // SendTaskFailure drops the cause a failed thread reports (docs/aws-on-moto.md); the failure paths
    // are covered on the embedded stack (test/conformance/threads.test.ts).
    const { executions = [] } = await aws.clients.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: aws.resources.stateMachineArn }),
    );
    expect(executions).toHaveLength(1);
    const execution = await aws.clients.sfn.send(
      new DescribeExecutionCommand({ executionArn: executions[0]?.executionArn }),
    );
    expect(execution.status).toBe("SUCCEEDED");
    const threads = await client.get(`/v1/sessions/${session.id}/threads`);
    expect((threads as { data: unknown[] }).data.length).toBeGreaterThanOrEqual(2);
    // A thread's own stream is response streaming from api-stream too (the JSON function refuses it).
    const threadId = (threads as { data: Array<{ id: string }> }).data[0]?.id as string;
    const stream = await client.beta.sessions.threads.events.stream(threadId, { session_id: session.id });
    stream.controller.abort();
  });

  it("dreams: a turn retried through an SQS delay, then dream-jobs, dream-worker and the output store; a schedule lives in EventBridge Scheduler", async () => {
    const { agentId, environmentId } = await cloudSetup();
    const session = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    // The model is overloaded once: the step is retried through an SQS delayed send, then answers.
    agentReplies.push({ fault: 529 }, mockText("noted"));

    await client.beta.sessions.events.send(session.id, {
      events: [say("Remember: always run the linter before committing.")],
    });
    await waitIdle(session.id);
    const turn = await allEvents(session.id);
    const at = (type: string) =>
      Date.parse(
        (turn.find((e) => e.type === type) as { processed_at?: string } | undefined)?.processed_at ?? "",
      );
    // moto held the retry's message for its DelaySeconds (a whole second at least).
    expect(at("span.model_request_start") - at("session.status_rescheduled")).toBeGreaterThanOrEqual(900);
    expect(turn.filter((e) => e.type === "session.error")).toHaveLength(1);
    expect(turn.filter((e) => e.type === "agent.message")).toHaveLength(1);
    const sessionIds = [session.id];
    const store = await client.beta.memoryStores.create({ name: "moto-dream-input" });
    for (const [path, content] of Object.entries({
      "/notes/build.md": "Run npm test before pushing.\n",
      "/notes/build-again.md": "Run npm test before pushing.\n",
      "/notes/people.md": "Ada owns the billing service.\n",
    })) {
      await client.beta.memoryStores.memories.create(store.id, { path, content });
    }
    const created = await explained(
      client.beta.dreams.create({
        inputs: [
          { type: "memory_store", memory_store_id: store.id },
          { type: "sessions", session_ids: sessionIds },
        ],
        model: "claude-sonnet-4-6",
      }),
    );
    const done = await explained(
      until("the dream to finish", async () => {
        const dream = await client.beta.dreams.retrieve(created.id);
        return ["completed", "failed", "canceled"].includes(dream.status) ? dream : undefined;
      }),
    );
    expect(done.status).toBe("completed");
    const output = done.outputs[0]?.memory_store_id as string;
    const paths: string[] = [];
    for await (const item of client.beta.memoryStores.memories.list(output)) {
      if (item.type === "memory") paths.push(item.path);
    }
    expect(paths).toEqual(expect.arrayContaining(["/notes/build-again.md", "/notes/people.md"]));
    expect(paths).not.toContain("/notes/build.md");
    expect(aws.fn("dream-worker").invocations.started).toBeGreaterThanOrEqual(1);

    // A schedule: the API puts it in EventBridge Scheduler. moto stores schedules but never fires them
    // (docs/aws-on-moto.md), so the test invokes the target with the schedule's Input, as Scheduler would.
    const schedule = (await client.post("/v1/dream_schedules", {
      body: {
        memory_store_id: store.id,
        schedule_expression: "cron(0 3 * * ? *)",
        model: "claude-sonnet-4-6",
        mode: "auto",
      },
    })) as { id: string };
    const stored = await aws.clients.scheduler.send(
      new GetScheduleCommand({
        Name: `reverie-${schedule.id}`.slice(0, 64),
        GroupName: aws.resources.scheduleGroup,
      }),
    );
    expect(stored.ScheduleExpression).toBe("cron(0 3 * * ? *)");
    expect(stored.Target?.Arn).toContain(aws.fn("dream-scheduler").name);
    const firing = JSON.parse(
      (stored.Target?.Input ?? "").replace("<aws.scheduler.scheduled-time>", "2030-01-01T03:00:00Z"),
    ) as unknown;
    const fired = await aws.fn("dream-scheduler").invoke(firing);
    expect(fired.kind).toBe("result");
    const again = await aws.fn("dream-scheduler").invoke(firing);
    // A duplicate delivery of one firing carries out the same plan.
    expect((again as Extract<InvokeOutcome, { kind: "result" }>).payload).toBe(
      (fired as Extract<InvokeOutcome, { kind: "result" }>).payload,
    );
    await client.delete(`/v1/dream_schedules/${schedule.id}`);
    await expect(
      aws.clients.scheduler.send(
        new GetScheduleCommand({
          Name: `reverie-${schedule.id}`.slice(0, 64),
          GroupName: aws.resources.scheduleGroup,
        }),
      ),
    ).rejects.toMatchObject({ name: "ResourceNotFoundException" });
  });

  it("seals a vault credential with KMS, and agent-step opens it to call an MCP server with it", async () => {
    const vault = await explained(client.beta.vaults.create({ display_name: "moto-vault" }));
    const credential = await client.beta.vaults.credentials.create(vault.id, {
      auth: { type: "static_bearer", token: MCP_TOKEN, mcp_server_url: mcp.url },
    });
    expect(credential.id).toBeTruthy();
    // What DynamoDB holds is sealed: the token is nowhere in the table.
    const { Items = [] } = await aws.clients.dynamodb.send(
      new ScanCommand({ TableName: aws.resources.tables.resources }),
    );
    expect(Items.length).toBeGreaterThan(0);
    expect(JSON.stringify(Items)).not.toContain(MCP_TOKEN);

    const environment = await client.beta.environments.create({ name: "moto-mcp" });
    const agent = await client.beta.agents.create({
      name: "mcp-agent",
      model: "claude-sonnet-4-6",
      mcp_servers: [{ type: "url", name: "tickets", url: mcp.url }],
      tools: [
        {
          type: "mcp_toolset",
          mcp_server_name: "tickets",
          default_config: { permission_policy: { type: "always_allow" } },
        },
      ],
    });
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: environment.id,
      vault_ids: [vault.id],
    });
    const callsBefore = mcp.calls.length;
    agentReplies.push(mockToolUse("tickets__create", { title: "filed from moto" }), mockText("filed"));
    await client.beta.sessions.events.send(session.id, { events: [say("file a ticket")] });
    await waitIdle(session.id);
    expect(mcp.calls.slice(callsBefore)).toEqual([
      { tool: "create", args: { title: "filed from moto" }, authorization: `Bearer ${MCP_TOKEN}` },
    ]);
  });

  it("runs a scheduled deployment: its schedule in EventBridge Scheduler, a firing through deployment-runner", async () => {
    const { agentId, environmentId } = await cloudSetup();
    const deployment = await explained(
      client.beta.deployments.create({
        agent: agentId,
        environment_id: environmentId,
        name: "moto report",
        initial_events: [say("Write the daily report.")],
        schedule: { type: "cron", expression: "0 9 * * 1-5", timezone: "UTC" },
      }),
    );
    const { Schedules = [] } = await aws.clients.scheduler.send(
      new ListSchedulesCommand({ GroupName: aws.resources.deploymentScheduleGroup }),
    );
    expect(Schedules).toHaveLength(1);
    const stored = await aws.clients.scheduler.send(
      new GetScheduleCommand({ Name: Schedules[0]?.Name, GroupName: aws.resources.deploymentScheduleGroup }),
    );
    expect(stored.Target?.Arn).toContain(aws.fn("deployment-runner").name);
    expect(stored.ScheduleExpressionTimezone).toBe("UTC");
    // moto never fires a schedule: invoke its target with its Input, as EventBridge Scheduler would.
    const firing = JSON.parse(
      (stored.Target?.Input ?? "").replace("<aws.scheduler.scheduled-time>", "2030-01-07T09:00:00Z"),
    ) as unknown;
    agentReplies.push(mockText("report written"));
    const fired = await aws.fn("deployment-runner").invoke(firing);
    expect(fired.kind, JSON.stringify(fired)).toBe("result");
    expect(JSON.parse((fired as Extract<InvokeOutcome, { kind: "result" }>).payload)).toMatchObject({
      kind: "started",
    });
    const runs: Anthropic.Beta.DeploymentRuns.BetaManagedAgentsDeploymentRun[] = [];
    for await (const run of client.beta.deploymentRuns.list({ deployment_id: deployment.id })) runs.push(run);
    expect(runs).toHaveLength(1);
    const sessionId = runs[0]?.session_id as string;
    await waitIdle(sessionId);
    const events = await allEvents(sessionId);
    expect(events.filter((e) => e.type === "agent.message")).toHaveLength(1);
    // The same firing delivered again finds the same run: no second run, no second session.
    const again = await aws.fn("deployment-runner").invoke(firing);
    expect(again.kind).toBe("result");
    const after: string[] = [];
    for await (const run of client.beta.deploymentRuns.list({ deployment_id: deployment.id }))
      after.push(run.id);
    expect(after).toEqual([runs[0]?.id]);
    const sessions: string[] = [];
    for await (const s of client.beta.sessions.list({ deployment_id: deployment.id })) sessions.push(s.id);
    expect(sessions).toEqual([sessionId]);
    // The recovery rule's input (on the sweeper's cadence): nothing is left pending here.
    const swept = await aws.fn("deployment-runner").invoke({ schemaVersion: 1, kind: "sweep" });
    expect(swept.kind, JSON.stringify(swept)).toBe("result");
    expect(JSON.parse((swept as Extract<InvokeOutcome, { kind: "result" }>).payload)).toEqual({
      kind: "swept",
      recovered: 0,
    });
    await client.beta.deployments.archive(deployment.id);
  });

  it("stores an upload in S3 and downloads the same bytes (binary media through API Gateway)", async () => {
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255, ...Buffer.from("moto")]);
    const uploaded = await explained(
      client.beta.files.upload({
        file: await toFile(bytes, "blob.bin", { type: "application/octet-stream" }),
      }),
    );
    expect(uploaded.size_bytes).toBe(bytes.byteLength);
    const downloaded = Buffer.from(await (await client.beta.files.download(uploaded.id)).arrayBuffer());
    expect(downloaded.equals(bytes)).toBe(true);
  });

  it("accepts an upload as large as REVERIE_FILE_MAX_BYTES allows (within Lambda's 6 MB payload once base64)", async () => {
    const max = loadConfig({}).REVERIE_FILE_MAX_BYTES;
    const bytes = Buffer.alloc(max, 7);
    const uploaded = await explained(
      client.beta.files.upload({
        file: await toFile(bytes, "large.bin", { type: "application/octet-stream" }),
      }),
    );
    expect(uploaded.size_bytes).toBe(max);
    const downloaded = Buffer.from(await (await client.beta.files.download(uploaded.id)).arrayBuffer());
    expect(downloaded.equals(bytes)).toBe(true);
  });

  it("stores a skill's zip in S3 (api-workspace); a cloud session reads its SKILL.md from /mnt/skills and a file mounted at creation", async () => {
    const name = `moto-skill-${Date.now().toString(36)}`;
    const skillMd = `---\nname: ${name}\ndescription: Greets. Use when asked to greet.\n---\n# Hello\nSay hello from moto.\n`;
    const skill = await explained(
      client.beta.skills.create({ files: [await toFile(Buffer.from(skillMd), `${name}/SKILL.md`)] }),
    );
    const { agentId, environmentId } = await cloudSetup({ skills: [{ type: "custom", skill_id: skill.id }] });
    const brief = await client.beta.files.upload({
      file: await toFile(Buffer.from("the brief, mounted\n"), "brief.md", { type: "text/markdown" }),
    });
    // The API lays out the skill's files and the mounted file in the session's stores at creation.
    const session = await explained(
      client.beta.sessions.create({
        agent: agentId,
        environment_id: environmentId,
        resources: [{ type: "file", file_id: brief.id, mount_path: "/workspace/brief.md" }],
      }),
    );
    agentReplies.push(
      mockToolUse("read", { file_path: `/mnt/skills/${name}/SKILL.md` }),
      mockToolUse("read", { file_path: "/workspace/brief.md" }),
      mockText("hello"),
    );
    await client.beta.sessions.events.send(session.id, { events: [say("greet me")] });
    await waitIdle(session.id);
    const [skillRead, fileRead] = (await allEvents(session.id)).filter(
      (e): e is Extract<Event, { type: "agent.tool_result" }> => e.type === "agent.tool_result",
    );
    expect(skillRead?.is_error ?? false).toBe(false);
    expect(JSON.stringify(skillRead?.content)).toContain("Say hello from moto.");
    expect(JSON.stringify(fileRead?.content)).toContain("the brief, mounted");
  });

  it("the sweeper runs over the tables and finds nothing stalled", async () => {
    const outcome = await aws.fn("sweeper").invoke({});
    expect(outcome.kind).toBe("result");
    expect(JSON.parse((outcome as Extract<InvokeOutcome, { kind: "result" }>).payload)).toMatchObject({
      nudged: 0,
    });
  });

  it("the SQS event source deletes what succeeded, redelivers a reported failure, and moto's redrive dead-letters it", async () => {
    // A queue of its own with a 1 s visibility timeout and two receives, so the cycle takes seconds.
    const sqs = aws.clients.sqs;
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: "poller-check-dlq" }));
    const dlqArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))
    ).Attributes?.QueueArn as string;
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: "poller-check",
        Attributes: {
          VisibilityTimeout: "1",
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }),
        },
      }),
    );
    const queueArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }))
    ).Attributes?.QueueArn as string;
    const seen: Array<{ body: string; receiveCount: string }> = [];
    const fn = {
      invoke: async (event: unknown): Promise<InvokeOutcome> => {
        const records = (
          event as {
            Records: Array<{
              messageId: string;
              body: string;
              attributes: { ApproximateReceiveCount: string };
            }>;
          }
        ).Records;
        for (const r of records)
          seen.push({ body: r.body, receiveCount: r.attributes.ApproximateReceiveCount });
        const failures = records
          .filter((r) => r.body === "bad")
          .map((r) => ({ itemIdentifier: r.messageId }));
        return { kind: "result", payload: JSON.stringify({ batchItemFailures: failures }) };
      },
    };
    const source = new SqsEventSource({
      sqs,
      queueUrl: QueueUrl as string,
      queueArn,
      fn,
      batchSize: 10,
      concurrency: 1,
      waitTimeSeconds: 1,
    });
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "good" }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "bad" }));
    source.start();
    try {
      const dead = await until(
        "the failed record in the DLQ",
        async () => {
          const { Messages = [] } = await sqs.send(
            new ReceiveMessageCommand({ QueueUrl: dlq.QueueUrl, WaitTimeSeconds: 0 }),
          );
          return Messages[0];
        },
        60_000,
      );
      expect(dead.Body).toBe("bad");
    } finally {
      await source.stop();
    }
    expect(seen.filter((s) => s.body === "good")).toHaveLength(1);
    expect(seen.filter((s) => s.body === "bad").map((s) => s.receiveCount)).toEqual(["1", "2"]);
  });

  // Last: it judges the AWS calls every test above made (moto itself enforces no IAM).
  it("makes only the AWS calls each function's IAM role in the synthesized stack allows", async () => {
    const policies = functionPolicies(aws.prefix, aws.resources, (name) => aws.fn(name).name);
    const calls = aws.awsCalls;
    // The proxies saw the paths above: a broken seam must not pass as "nothing denied".
    const made = new Set(calls.map((c) => `${c.fn} ${c.action}`));
    for (const expected of [
      "api-workspace s3:PutObject",
      "api-workspace kms:GenerateDataKey",
      "api-memory scheduler:CreateSchedule",
      "agent-step lambda:InvokeFunction",
      "agent-step kms:Decrypt",
      "agent-step states:StartExecution",
      "agent-step secretsmanager:GetSecretValue",
      "grader sns:Publish",
      "webhook-deliver kms:Decrypt",
      "dream-worker sqs:DeleteMessage",
      "deployment-runner dynamodb:PutItem",
    ]) {
      expect(made, `no ${expected} recorded`).toContain(expected);
    }
    const denied = deniedCalls(calls, (fn) => policies[fn as keyof typeof policies]?.statements);
    expect(denied, `AWS calls their function's role does not allow:\n${describeDenied(denied)}`).toEqual([]);
  });
});
