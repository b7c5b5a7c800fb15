/**
 * Baseline (b): LangGraph.js's prebuilt ReAct agent with a durable SQLite checkpointer (a file on
 * disk), ChatAnthropic pointed at the same mock Messages server, and the same file-write tool.
 *
 * better-sqlite3 is the package's own devDependency (13.x, N-API prebuilds inside the package, so it
 * loads under Node 24 without a compiler or a download); the checkpointer is handed that database.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChatAnthropic } from "@langchain/anthropic";
import { tool } from "@langchain/core/tools";
import { createReactAgent } from "@langchain/langgraph/prebuilt";
import { SqliteSaver } from "@langchain/langgraph-checkpoint-sqlite";
import Database from "better-sqlite3";
import {
  MAX_TOKENS,
  MODEL,
  runWrite,
  SYSTEM_PROMPT,
  userText,
  type WriteInput,
  writeToolDefinition,
} from "./workload.js";

export interface LangGraphSystem {
  /** One `invoke` on a fresh thread: the whole session, checkpointed. */
  runSession(tag: string): Promise<void>;
  /** Checkpoints written so far (a sanity check that the saver is really in use). */
  checkpointCount(): number;
  dbFile: string;
  close(): Promise<void>;
}

/** `steps`: model calls per session (the workload's tool calls + its closing answer); default 2. */
export async function startLangGraph(
  upstreamUrl: string,
  options: { steps?: number } = {},
): Promise<LangGraphSystem> {
  const steps = options.steps ?? 2;
  const root = await mkdtemp(join(tmpdir(), "reverie-bench-langgraph-"));
  const dbFile = join(root, "checkpoints.sqlite");
  const db = new Database(dbFile);
  const checkpointer = new SqliteSaver(db);
  const llm = new ChatAnthropic({
    model: MODEL,
    apiKey: "sk-bench",
    anthropicApiUrl: upstreamUrl,
    maxRetries: 0,
    maxTokens: MAX_TOKENS,
  });
  const write = tool(async (input: WriteInput) => runWrite(join(root, "workspace"), input), {
    name: writeToolDefinition.name,
    description: writeToolDefinition.description ?? "",
    schema: writeToolDefinition.input_schema as Record<string, unknown>,
  });
  const agent = createReactAgent({ llm, tools: [write], checkpointer, prompt: SYSTEM_PROMPT });
  let threads = 0;
  return {
    dbFile,
    async runSession(tag) {
      threads += 1;
      const result = await agent.invoke(
        { messages: [{ role: "user", content: userText(tag) }] },
        { configurable: { thread_id: `thread-${tag}-${threads}` } },
      );
      const last = result.messages.at(-1);
      // the user message, a tool call and its result per step but the last, the closing answer
      if (result.messages.length !== 2 * steps || last?.text !== "done")
        throw new Error(`LangGraph session ${tag} ended unexpectedly: ${result.messages.length} messages`);
    },
    checkpointCount() {
      return (db.prepare("select count(*) as n from checkpoints").get() as { n: number }).n;
    },
    async close() {
      db.close();
    },
  };
}
