/**
 * `npm run demo`: a first session with Reverie through the official Anthropic SDK.
 *
 * Start the stack in one terminal (`npm start`), then run `npm run demo` in another. The demo creates
 * an environment, an agent with the built-in file tools and a session, opens the session's event
 * stream, asks the agent to write a file and read it back, prints every event as it arrives, and
 * ends with the session's token usage and the file's content.
 *
 *   REVERIE_URL       where the stack listens (default http://127.0.0.1:$PORT, PORT defaulting to 8787)
 *   REVERIE_API_KEY   the workspace API key (default: the one `npm start` saved in
 *                     ${REVERIE_DATA_DIR:-.reverie}/api-key)
 *
 * The same code works against a deployed Reverie or, with no changes beyond the base URL and key,
 * against Anthropic's own Managed Agents API.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Anthropic from "@anthropic-ai/sdk";

type StreamEvent = Anthropic.Beta.Sessions.Events.BetaManagedAgentsStreamSessionEvents;
type SessionEvent = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;
type ToolUse = Anthropic.Beta.Sessions.Events.BetaManagedAgentsAgentToolUseEvent;
type ToolResult = Anthropic.Beta.Sessions.Events.BetaManagedAgentsAgentToolResultEvent;

export const DEFAULT_URL = `http://127.0.0.1:${process.env.PORT || 8787}`;
export const DEMO_FILE = "hello.txt";
export const DEMO_TEXT = "hello from Reverie";
/** An instruction the offline simulated model understands, and any real model does too. */
export const DEMO_MESSAGE = `write "${DEMO_TEXT}" to ${DEMO_FILE} then read ${DEMO_FILE}`;

/** Where the demo writes; a TTY gets a live progress line, anything else plain lines only. */
export interface DemoOutput {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface DemoOptions {
  baseURL: string;
  apiKey: string;
  out?: DemoOutput;
  /** The instruction sent to the agent (default {@link DEMO_MESSAGE}). */
  message?: string;
  /** Gives up waiting for the session to go idle after this long (default 120 s). */
  timeoutMs?: number;
}

export interface DemoResult {
  environmentId: string;
  agentId: string;
  sessionId: string;
  events: StreamEvent[];
  usage: Anthropic.Beta.Sessions.BetaManagedAgentsSessionUsage;
  fileContent: string | undefined;
}

/** A problem the user can fix (stack not running, bad key); printed without a stack trace. */
export class DemoError extends Error {
  override name = "DemoError";
}

const color = (code: number) => (s: string, on: boolean) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
const dim = color(2);
const bold = color(1);
const cyan = color(36);
const green = color(32);
const yellow = color(33);
const red = color(31);

function oneLine(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function textOf(content: ReadonlyArray<{ type: string; text?: string }> | undefined): string {
  return (content ?? []).map((b) => (b.type === "text" ? (b.text ?? "") : `[${b.type}]`)).join(" ");
}

const number = (n: number | undefined) => (n ?? 0).toLocaleString("en-US");

/** A short, readable summary of one event (empty when the type says it all). */
export function summarize(event: StreamEvent | SessionEvent): string {
  switch (event.type) {
    case "user.message":
    case "agent.message":
      return oneLine(textOf(event.content), 160);
    case "agent.tool_use":
    case "agent.custom_tool_use":
      return `${event.name} ${oneLine(JSON.stringify(event.input), 120)}`;
    case "agent.tool_result": {
      const body = oneLine(textOf(event.content), 120);
      return event.is_error ? `error: ${body}` : body || "(no output)";
    }
    case "span.model_request_end": {
      const u = event.model_usage;
      return `${number(u.input_tokens)} in / ${number(u.output_tokens)} out tokens${event.is_error ? " (failed)" : ""}`;
    }
    case "session.usage":
      return `total so far: ${number(event.usage.input_tokens)} in / ${number(event.usage.output_tokens)} out tokens`;
    case "session.status_idle":
      return `stop reason: ${event.stop_reason.type}`;
    case "session.error":
      return oneLine(event.error.message, 160);
    default:
      return "";
  }
}

/**
 * Runs the demo against a running stack: environment → agent → session → stream + message → idle →
 * usage and file content. Prints as it goes to `out` and returns what it saw.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const out = options.out ?? process.stdout;
  const tty = Boolean(out.isTTY);
  const print = (line = "") => out.write(`${line}\n`);
  const client = new Anthropic({ baseURL: options.baseURL, apiKey: options.apiKey, maxRetries: 1 });

  try {
    print(bold(`Reverie demo — ${options.baseURL}`, tty));
    print();

    const environment = await client.beta.environments.create({
      name: "reverie-demo",
      description: "created by npm run demo",
    });
    print(`${green("✓", tty)} environment ${environment.id} (${environment.config.type})`);

    const agent = await client.beta.agents.create({
      name: "Reverie demo agent",
      model: "claude-sonnet-4-6",
      system: "You are a helpful agent. Use the file tools to do exactly what the user asks.",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    print(`${green("✓", tty)} agent       ${agent.id} (version ${agent.version}, model ${agent.model.id})`);

    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: environment.id,
      title: "Reverie demo",
    });
    print(`${green("✓", tty)} session     ${session.id} (${session.status})`);
    print();

    // Open the stream before sending. The session is brand new, so asking for everything after
    // event 0 (Last-Event-ID) guarantees nothing is missed even if the message lands first.
    const stream = await client.beta.sessions.events.stream(
      session.id,
      {},
      { headers: { "last-event-id": "0" } },
    );
    const message = options.message ?? DEMO_MESSAGE;
    print(`${cyan("→", tty)} sending: ${message}`);
    print();
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: message }] }],
    });

    const started = Date.now();
    const events: StreamEvent[] = [];
    const progress = { modelCalls: 0, toolCalls: 0, inputTokens: 0, outputTokens: 0 };
    const progressLine = () =>
      `… ${((Date.now() - started) / 1000).toFixed(1)}s · ${progress.modelCalls} model call${progress.modelCalls === 1 ? "" : "s"} · ` +
      `${progress.toolCalls} tool call${progress.toolCalls === 1 ? "" : "s"} · ` +
      `${number(progress.inputTokens)} in / ${number(progress.outputTokens)} out tokens`;
    // On a terminal the progress line stays at the bottom and ticks; elsewhere it is printed after
    // each model call, so logs stay readable.
    const clearProgress = () => tty && out.write("\r\x1b[K");
    const ticker = tty ? setInterval(() => out.write(`\r\x1b[K${dim(progressLine(), tty)}`), 200) : undefined;
    const timeoutMs = options.timeoutMs ?? 120_000;
    const timer = setTimeout(() => stream.controller.abort(), timeoutMs);

    let idle = false;
    try {
      for await (const event of stream) {
        events.push(event);
        if (event.type === "span.model_request_end") {
          progress.modelCalls++;
          progress.inputTokens += event.model_usage.input_tokens;
          progress.outputTokens += event.model_usage.output_tokens;
        }
        if (event.type === "agent.tool_use" || event.type === "agent.custom_tool_use") progress.toolCalls++;
        const offset = `+${((Date.now() - started) / 1000).toFixed(2)}s`.padStart(8);
        const type = event.type.padEnd(24);
        const paint = event.type.startsWith("agent.tool")
          ? yellow
          : event.type === "session.error"
            ? red
            : event.type.startsWith("agent.")
              ? cyan
              : dim;
        clearProgress();
        print(`${dim(offset, tty)}  ${paint(type, tty)} ${summarize(event)}`.trimEnd());
        if (!tty && event.type === "span.model_request_end") print(dim(`          ${progressLine()}`, tty));
        if (event.type === "session.status_idle" || event.type === "session.status_terminated") {
          idle = true;
          break;
        }
      }
    } catch (error) {
      if (!stream.controller.signal.aborted) throw error;
    } finally {
      clearTimeout(timer);
      if (ticker) clearInterval(ticker);
      clearProgress();
    }
    if (!idle) throw new DemoError(`the session did not go idle within ${timeoutMs / 1000} s`);

    const done = await client.beta.sessions.retrieve(session.id);
    print();
    print(bold("Session usage", tty));
    print(`  input tokens         ${number(done.usage.input_tokens)}`);
    print(`  output tokens        ${number(done.usage.output_tokens)}`);
    print(`  cache read tokens    ${number(done.usage.cache_read_input_tokens)}`);
    print(`  active seconds       ${done.stats.active_seconds ?? 0}`);
    print(`  status               ${done.status}`);

    const fileContent = await readBackFile(client, session.id, DEMO_FILE);
    print();
    if (fileContent === undefined) {
      print(yellow(`The agent did not read ${DEMO_FILE} back, so there is no content to show.`, tty));
    } else {
      print(bold(`Workspace file ${DEMO_FILE}`, tty));
      for (const line of fileContent.split("\n")) print(`  │ ${line}`);
    }
    print();
    print(dim(`Browse the transcript: client.beta.sessions.events.list("${session.id}")`, tty));

    return {
      environmentId: environment.id,
      agentId: agent.id,
      sessionId: session.id,
      events,
      usage: done.usage,
      fileContent,
    };
  } catch (error) {
    throw explainClientError(error, options.baseURL);
  }
}

/** The content of `file` as the agent's last successful `read` of it returned it, from the event log. */
async function readBackFile(client: Anthropic, sessionId: string, file: string): Promise<string | undefined> {
  const uses = new Map<string, ToolUse>();
  let content: string | undefined;
  for await (const event of client.beta.sessions.events.list(sessionId, {
    types: ["agent.tool_use", "agent.tool_result"],
    limit: 100,
  })) {
    if (event.type === "agent.tool_use") uses.set(event.id, event);
    if (event.type !== "agent.tool_result") continue;
    const use = uses.get((event as ToolResult).tool_use_id);
    const path = String((use?.input as { file_path?: unknown } | undefined)?.file_path ?? "");
    if (use?.name === "read" && path.replace(/^\/workspace\//, "") === file && !event.is_error)
      content = withoutLineNumbers(textOf(event.content));
  }
  return content;
}

/** The read tool numbers lines like `cat -n` (`     1\thello`); the file itself has no numbers. */
function withoutLineNumbers(text: string): string {
  const lines = text.split("\n");
  return lines.every((l) => l === "" || /^\s*\d+\t/.test(l))
    ? lines.map((l) => l.replace(/^\s*\d+\t/, "")).join("\n")
    : text;
}

/** Turns connection and auth failures into something a new user can act on. */
export function explainClientError(error: unknown, baseURL: string): unknown {
  if (error instanceof Anthropic.APIConnectionError) {
    return new DemoError(
      `cannot reach Reverie at ${baseURL}: is the stack running?\n` +
        "  Start it in another terminal with `npm start` (or set REVERIE_URL to where it listens).",
    );
  }
  if (error instanceof Anthropic.AuthenticationError) {
    return new DemoError(
      `Reverie at ${baseURL} rejected the API key.\n` +
        "  Set REVERIE_API_KEY to the key `npm start` printed, or run the demo from the directory " +
        "you started the stack in so it finds .reverie/api-key.",
    );
  }
  return error;
}

/** The API key: REVERIE_API_KEY, else the one the embedded stack saved in its data dir. */
export function resolveApiKey(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REVERIE_API_KEY) return env.REVERIE_API_KEY;
  const file = join(env.REVERIE_DATA_DIR || ".reverie", "api-key");
  try {
    const key = readFileSync(file, "utf8").trim();
    if (key) return key;
  } catch {
    // fall through
  }
  throw new DemoError(
    `no API key: set REVERIE_API_KEY, or start the stack once with \`npm start\` (it saves its key to ${file}).`,
  );
}

/** Runs a demo from the command line: the stack's URL and key from the environment, friendly errors. */
export async function runFromCommandLine(
  demo: (options: { baseURL: string; apiKey: string }) => Promise<unknown>,
): Promise<void> {
  const baseURL = (process.env.REVERIE_URL || DEFAULT_URL).replace(/\/+$/, "");
  try {
    await demo({ baseURL, apiKey: resolveApiKey() });
  } catch (error) {
    if (error instanceof DemoError) {
      process.stderr.write(`\nDemo stopped: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await runFromCommandLine(runDemo);
