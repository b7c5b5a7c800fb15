/**
 * The benchmark workload, shared by every system under test so that they do the same work:
 * a user message → the model calls `write` {file_path, content} → the tool writes the file → the
 * model answers with end_turn text. Two model calls and one tool per session.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { builtinToolDefinitions } from "../../shared/core/tools/toolset.js";
import {
  type MockStep,
  mockText,
  mockToolUse,
  type ReceivedRequest,
} from "../fixtures/mock-messages-server.js";

export const STEPS_PER_SESSION = 2;
export const MODEL = "claude-sonnet-4-6";
export const SYSTEM_PROMPT = "You are a careful test agent.";
export const MAX_TOKENS = 1024;
/** What the model writes: a small file, the same for every system. */
export const FILE_CONTENT = `${"The quick brown fox jumps over the lazy dog.\n".repeat(8)}`;

/** Reverie's own `write` tool definition, offered verbatim by the baselines too. */
export const writeToolDefinition: Anthropic.Messages.Tool = (() => {
  const definition = builtinToolDefinitions({
    type: "agent_toolset_20260401",
    default_config: { enabled: false, permission_policy: { type: "always_allow" } },
    configs: [{ name: "write", enabled: true, permission_policy: { type: "always_allow" } }],
  } as unknown as Parameters<typeof builtinToolDefinitions>[0])[0];
  if (definition?.name !== "write") throw new Error("Reverie's toolset no longer defines `write`");
  return definition;
})();

export interface WriteInput {
  file_path: string;
  content: string;
}

/** The user message of a session: its tag names the file the model will write. */
export function userText(tag: string): string {
  return `bench ${tag}: write the file, then say done.`;
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((block) => (block?.type === "text" ? String(block.text) : "")).join("");
}

function isToolResultTurn(message: Anthropic.Messages.MessageParam | undefined): boolean {
  return (
    message?.role === "user" &&
    Array.isArray(message.content) &&
    message.content.some((block) => block.type === "tool_result")
  );
}

/**
 * The scripted model, as a mock-server fallback so it serves any number of sessions: a fresh user
 * message gets a `write` tool call; a tool result gets the closing text.
 */
export const benchModel: MockStep = (request: ReceivedRequest) => {
  const messages = request.body.messages;
  if (isToolResultTurn(messages.at(-1))) return mockText("done");
  const tag = /^bench (\S+):/.exec(textOf(messages[0]?.content))?.[1] ?? "untagged";
  return mockToolUse("write", { file_path: `out/${tag}.txt`, content: FILE_CONTENT });
};

/** The baselines' tool: the same file write Reverie's `write` does, under `root`. */
export async function runWrite(root: string, input: WriteInput): Promise<string> {
  const path = join(root, input.file_path.replace(/^\/+/, ""));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, input.content);
  const lines = input.content.split("\n").length - (input.content.endsWith("\n") ? 1 : 0);
  return `Wrote ${lines} lines (${Buffer.byteLength(input.content)} bytes) to /workspace/${input.file_path}`;
}
