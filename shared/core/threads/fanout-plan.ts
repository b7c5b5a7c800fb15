/**
 * A fan-out plan: what a coordinator step's `list_agents` / `send_to_agent` calls resolved to —
 * which calls dispatch to which threads (new ones with their ids fixed here), which are refused and
 * why. Stored once per coordinator step with `ifNotExists` before anything acts on it, so a retried
 * step, a restarted execution and the resume all see the very same plan.
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import { ConditionFailedError, type DocumentStore } from "../ports.js";

const planItemSchema = lazySchema(() =>
  z.object({
    toolUseEventId: z.string(),
    resultSeq: z.number().int(),
    resultEventId: z.string(),
    tool: z.enum(["list_agents", "send_to_agent"]),
    /** Set when the call is answered at once (list_agents, or a refused send): the tool result text. */
    immediate: z.object({ isError: z.boolean(), text: z.string() }).optional(),
    /** Set when the call dispatches to a thread. */
    dispatch: z
      .object({
        threadId: z.string(),
        isNew: z.boolean(),
        agentName: z.string(),
        agentRef: z.object({ id: z.string(), version: z.number().int() }),
        /**
         * A new thread of an inline agent (multiagent_20261001): the agent as it runs, fixed here (it is
         * saved nowhere else); `agentRef` is then its parent's.
         */
        inlineAgent: z.record(z.string(), z.unknown()).optional(),
        message: z.string(),
        timeoutSeconds: z.number().int(),
        tokenBudget: z.number().int().optional(),
      })
      .optional(),
  }),
);
export type FanoutPlanItem = z.infer<typeof planItemSchema>;

export const fanoutPlanSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    stepSeq: z.number().int(),
    policy: z.enum(["continue", "cancel_siblings"]),
    /** When the plan was made: the time of every event it writes, so a replay writes identical events. */
    createdAt: z.string(),
    items: z.array(planItemSchema),
  }),
);
export type FanoutPlan = z.infer<typeof fanoutPlanSchema>;

/** The partition of a coordinator's fan-out plans. */
export const planKey = (sessionId: string) => `fanout#${sessionId}`;
const planSk = (stepSeq: number) => stepSeq.toString().padStart(10, "0");

export async function loadFanoutPlan(store: DocumentStore, sessionId: string, stepSeq: number) {
  const item = await store.get("resources", planKey(sessionId), planSk(stepSeq));
  return item ? fanoutPlanSchema.parse(item.plan) : undefined;
}

/** Stores `plan` unless one exists for the step; returns whichever is stored. */
export async function saveFanoutPlan(store: DocumentStore, sessionId: string, plan: FanoutPlan) {
  try {
    await store.put(
      "resources",
      { pk: planKey(sessionId), sk: planSk(plan.stepSeq), plan },
      { ifNotExists: true },
    );
    return plan;
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
    return (await loadFanoutPlan(store, sessionId, plan.stepSeq)) as FanoutPlan;
  }
}

/** The calls of a plan that dispatch to a thread. */
export const dispatchedItems = (plan: FanoutPlan) =>
  plan.items.filter((i): i is FanoutPlanItem & { dispatch: NonNullable<FanoutPlanItem["dispatch"]> } =>
    Boolean(i.dispatch),
  );
