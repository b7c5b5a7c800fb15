/**
 * The tools a coordinator (an agent with `multiagent: {type:"coordinator"}`) is offered: `list_agents`
 * to see its roster and `send_to_agent` to start or follow up a thread. Calls to `send_to_agent` in
 * one model turn form one fan-out. Beyond Anthropic (README): `timeout_seconds`, `token_budget` and
 * `failure_policy` on `send_to_agent`.
 */
import type Anthropic from "@anthropic-ai/sdk";
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { SessionAgent } from "../../contract/sdk-types.js";

export const COORDINATOR_TOOL_NAMES = ["list_agents", "send_to_agent"] as const;

/** Whether `name` is a coordinator tool of a coordinator agent (other agents may have a custom tool so named). */
export function isCoordinatorTool(agent: SessionAgent, name: string): boolean {
  return (
    agent.multiagent?.type === "coordinator" && (COORDINATOR_TOOL_NAMES as readonly string[]).includes(name)
  );
}

/** Per-thread timeout bounds, seconds (extension). */
export const THREAD_TIMEOUT = { min: 1, max: 86_400, default: 3_600 } as const;

export const SendToAgentInputSchema = lazySchema(() =>
  z.object({
    agent_name: z.string().min(1).optional(),
    thread_id: z.string().min(1).optional(),
    message: z.string().min(1),
    timeout_seconds: z.number().int().min(THREAD_TIMEOUT.min).max(THREAD_TIMEOUT.max).optional(),
    token_budget: z.number().int().min(1).optional(),
    failure_policy: z.enum(["continue", "cancel_siblings"]).optional(),
  }),
);
export type SendToAgentInput = z.infer<typeof SendToAgentInputSchema>;

/** The coordinator tool definitions offered to the model, after the agent's own tools. */
export function coordinatorToolDefinitions(agent: SessionAgent): Anthropic.Messages.Tool[] {
  if (agent.multiagent?.type !== "coordinator") return [];
  return delegationTools();
}

/** `list_agents` and `send_to_agent` as a coordinator is offered them (others adapt their descriptions). */
export function delegationTools(): [Anthropic.Messages.Tool, Anthropic.Messages.Tool] {
  return [
    {
      name: "list_agents",
      description:
        "List the agents you can delegate to (your roster): name, id, version, description and model.",
      input_schema: { type: "object", properties: {} },
    },
    {
      name: "send_to_agent",
      description:
        "Send a message to an agent of your roster. Without thread_id a new thread is started for agent_name; with thread_id the message is a follow-up in that thread, which keeps its history. Every send_to_agent call of one turn runs in parallel; each returns the agent's reply (or an error) as its result. The agents share your workspace files.",
      input_schema: {
        type: "object",
        properties: {
          agent_name: { type: "string", description: "Roster agent name (or id) for a new thread." },
          thread_id: { type: "string", description: "An existing thread (sthr_…) to follow up." },
          message: { type: "string", description: "The task or follow-up for the agent." },
          timeout_seconds: {
            type: "integer",
            minimum: THREAD_TIMEOUT.min,
            maximum: THREAD_TIMEOUT.max,
            description: `Give up waiting for this thread after this many seconds (default ${THREAD_TIMEOUT.default}).`,
          },
          token_budget: {
            type: "integer",
            minimum: 1,
            description: "Stop the thread once it used this many input+output tokens on this message.",
          },
          failure_policy: {
            type: "string",
            enum: ["continue", "cancel_siblings"],
            description:
              "continue (default): other threads finish when this one fails; cancel_siblings: a failure stops the others.",
          },
        },
        required: ["message"],
      },
    },
  ];
}
