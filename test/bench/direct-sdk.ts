/**
 * Baseline (a): the official SDK in a plain loop, messages kept in an array, no durability.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import {
  MAX_TOKENS,
  MODEL,
  runWrite,
  SYSTEM_PROMPT,
  userText,
  type WriteInput,
  writeToolDefinition,
} from "./workload.js";

export interface DirectSdkSystem {
  runSession(tag: string): Promise<void>;
  close(): Promise<void>;
}

export async function startDirectSdk(upstreamUrl: string): Promise<DirectSdkSystem> {
  const root = await mkdtemp(join(tmpdir(), "reverie-bench-direct-"));
  const client = new Anthropic({ apiKey: "sk-bench", baseURL: upstreamUrl, maxRetries: 0 });
  return {
    async runSession(tag) {
      const messages: Anthropic.Messages.MessageParam[] = [
        { role: "user", content: [{ type: "text", text: userText(tag) }] },
      ];
      for (;;) {
        const response = await client.messages.create({
          model: MODEL,
          max_tokens: MAX_TOKENS,
          system: SYSTEM_PROMPT,
          tools: [writeToolDefinition],
          messages,
        });
        messages.push({ role: "assistant", content: response.content });
        if (response.stop_reason !== "tool_use") return;
        const results: Anthropic.Messages.ToolResultBlockParam[] = [];
        for (const block of response.content) {
          if (block.type !== "tool_use") continue;
          const output = await runWrite(root, block.input as WriteInput);
          results.push({ type: "tool_result", tool_use_id: block.id, content: output });
        }
        messages.push({ role: "user", content: results });
      }
    },
    async close() {},
  };
}
