/**
 * The plan language of workflow runs (`multiagent_20261001` workflows): a small, typed, JSON-shaped
 * program the model writes as the input of `start_workflow_run`. A plan has phases; a phase runs its
 * steps one after the other; a step is
 *
 *   - `agent`:    one agent (predefined or inline) gets `input`, works in its own thread, replies;
 *   - `map`:      the same agent call once per item (a literal list or a `list` step's output), side by side;
 *   - `parallel`: branches (each a list of steps) side by side.
 *
 * An `input` names earlier outputs with `{{steps.<id>}}` (a map step's outputs come numbered), and a
 * map's input its item with `{{item}}` / `{{index}}`. `retries` (0–3) re-runs a failed or timed-out
 * call in a fresh thread. Validation happens before anything runs and answers in `program_error`
 * messages that name the offending path and say what would be accepted, so the model can fix the
 * plan and call the tool again.
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import {
  WORKFLOW_MAX_CONCURRENCY,
  type WorkflowNode,
  type WorkflowProgram,
} from "../../infra-spec/workflow-state-machine.js";

/** Bounds of the language (README "Workflow runs"). */
export const WORKFLOW_PLAN_LIMITS = {
  phases: 20,
  /** Steps in a plan, counting nested ones (a map counts once). */
  steps: 100,
  branches: 25,
  /** Nesting of `parallel` inside `parallel`. */
  depth: 3,
  literalItems: 100,
  itemChars: 4_000,
  inputChars: 20_000,
  inlineAgents: 20,
  retries: 3,
  stepTimeout: { min: 2, max: 3_600, default: 600 },
  runTimeout: { min: 10, max: 86_400, default: 3_600 },
} as const;

const L = WORKFLOW_PLAN_LIMITS;
const stepId = lazySchema(() =>
  z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,39}$/, "a step id is 1–40 characters: a lowercase letter, then a-z, 0-9 or _"),
);
const name = lazySchema(() => z.string().trim().min(1).max(200));
// A function, not shared schemas: built inside the lazily built schemas that spread it.
const callFields = () => ({
  id: stepId,
  agent: z.string().min(1).max(200).describe("A predefined agent's name or id, or an inline agent's name."),
  input: z.string().min(1).max(L.inputChars),
  retries: z.number().int().min(0).max(L.retries).default(0),
  timeout_seconds: z.number().int().min(L.stepTimeout.min).max(L.stepTimeout.max).optional(),
});

export const AgentStepSchema = lazySchema(() =>
  z.strictObject({
    type: z.literal("agent"),
    ...callFields(),
    output: z.enum(["text", "list"]).default("text"),
  }),
);
export const MapStepSchema = lazySchema(() =>
  z.strictObject({
    type: z.literal("map"),
    ...callFields(),
    items: z.union([
      z.array(z.string().max(L.itemChars)).max(L.literalItems),
      z.strictObject({ from: stepId }),
    ]),
    max_concurrency: z.number().int().min(1).max(WORKFLOW_MAX_CONCURRENCY).default(10),
  }),
);
export type AgentStep = z.infer<typeof AgentStepSchema>;
export type MapStep = z.infer<typeof MapStepSchema>;
export type ParallelStep = { type: "parallel"; id: string; branches: WorkflowStep[][] };
export type WorkflowStep = AgentStep | MapStep | ParallelStep;

export const ParallelStepSchema: z.ZodType<ParallelStep> = lazySchema(
  () =>
    z.strictObject({
      type: z.literal("parallel"),
      id: stepId,
      get branches() {
        return z.array(z.array(WorkflowStepSchema).min(1)).min(2).max(L.branches);
      },
    }) as unknown as z.ZodType<ParallelStep>,
);

export const WorkflowStepSchema: z.ZodType<WorkflowStep> = z.lazy(() =>
  z.discriminatedUnion("type", [AgentStepSchema, MapStepSchema, ParallelStepSchema as never]),
) as unknown as z.ZodType<WorkflowStep>;

export const InlineAgentSchema = lazySchema(() =>
  z.strictObject({
    name: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/,
        "an inline agent's name is 1–64 letters, digits, space, _ . -",
      ),
    system: z.string().min(1).max(50_000),
    model: z.string().min(1).max(200).optional(),
    /** Names of the starting agent's tools it may use (default: all of them). */
    tools: z.array(z.string().min(1)).max(128).optional(),
    description: z.string().max(2_000).optional(),
  }),
);
export type InlineAgent = z.infer<typeof InlineAgentSchema>;

/** `start_workflow_run`'s input. */
export const WorkflowPlanSchema = lazySchema(() =>
  z.strictObject({
    name: name.optional(),
    description: z.string().max(2_000).optional(),
    timeout_seconds: z.number().int().min(L.runTimeout.min).max(L.runTimeout.max).optional(),
    agents: z.array(InlineAgentSchema).max(L.inlineAgents).optional(),
    phases: z
      .array(
        z.strictObject({
          name,
          description: z.string().max(2_000).optional(),
          steps: z.array(WorkflowStepSchema).min(1),
        }),
      )
      .min(1)
      .max(L.phases),
    result: z.array(stepId).min(1).optional(),
  }),
);
export type WorkflowPlan = z.infer<typeof WorkflowPlanSchema>;

/** An agent a plan may call. */
export type AgentBinding =
  | { kind: "predefined"; name: string; id: string; version: number }
  | { kind: "inline"; name: string };

/** What a step of a validated plan does (every step, nested ones included). */
export interface PlanStep {
  id: string;
  kind: "agent" | "map" | "parallel";
  phase: number;
  agent?: AgentBinding;
  input?: string;
  listOutput?: boolean;
  retries: number;
  timeoutSeconds: number;
}

/** A plan that passed validation, with everything the run needs to execute it. */
export interface ValidatedPlan {
  name: string | null;
  description: string | null;
  timeoutSeconds: number;
  phases: { name: string; description: string | null }[];
  steps: Record<string, PlanStep>;
  /** Literal map items by map step id (the execution input). */
  items: Record<string, string[]>;
  inlineAgents: InlineAgent[];
  /** Step ids whose outputs make the run's result. */
  result: string[];
  program: WorkflowProgram;
}

/** What the plan may use, from the agent's `multiagent.workflows` and the server's limits. */
export interface PlanContext {
  predefined: { name: string; id: string; version: number }[];
  inlineAgents: boolean;
  maxRunTimeoutSeconds?: number;
}

export type PlanValidation = { ok: true; plan: ValidatedPlan } | { ok: false; message: string };

/** Template references: `{{steps.<id>}}`, `{{item}}`, `{{index}}` (spaces allowed inside the braces). */
const REFERENCE = /\{\{([^{}]*)\}\}/g;

const pathOf = (path: ReadonlyArray<PropertyKey>) =>
  path.reduce<string>(
    (out, part) =>
      typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part),
    "",
  ) || "plan";

/**
 * Parses and checks a plan. Every refusal names where the plan is wrong and what it may say instead.
 * Checks, in order: shape (zod), unique step ids, agents (predefined or inline), references (to an
 * earlier step, `{{item}}` only in a map), map sources (an earlier `list` step), sizes and nesting.
 */
export function validateWorkflowPlan(input: unknown, context: PlanContext): PlanValidation {
  const parsed = WorkflowPlanSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 8).map((i) => `${pathOf(i.path)}: ${i.message}`);
    return refuse(issues);
  }
  const plan = parsed.data;
  const problems: string[] = [];
  const maxTimeout = Math.min(context.maxRunTimeoutSeconds ?? L.runTimeout.max, L.runTimeout.max);
  const timeoutSeconds = Math.min(plan.timeout_seconds ?? L.runTimeout.default, maxTimeout);
  if (plan.timeout_seconds !== undefined && plan.timeout_seconds > maxTimeout)
    problems.push(`timeout_seconds: at most ${maxTimeout} on this server`);

  const inline = plan.agents ?? [];
  if (inline.length > 0 && !context.inlineAgents)
    problems.push(
      `agents: inline agents are disabled for this agent (multiagent.workflows.inline_agents); call one of the predefined agents instead: ${listed(context.predefined.map((a) => a.name))}`,
    );
  const inlineNames = new Set<string>();
  inline.forEach((a, i) => {
    if (inlineNames.has(a.name)) problems.push(`agents[${i}].name: "${a.name}" is defined twice`);
    inlineNames.add(a.name);
  });
  const resolve = (ref: string): AgentBinding | undefined => {
    if (inlineNames.has(ref) && context.inlineAgents) return { kind: "inline", name: ref };
    const p = context.predefined.find((a) => a.name === ref) ?? context.predefined.find((a) => a.id === ref);
    return p ? { kind: "predefined", ...p } : undefined;
  };
  const callable = [
    ...context.predefined.map((a) => a.name),
    ...(context.inlineAgents ? [...inlineNames] : []),
  ];

  const steps: Record<string, PlanStep> = {};
  const items: Record<string, string[]> = {};
  const allIds = new Set<string>();
  const collect = (list: WorkflowStep[]): void => {
    for (const s of list) {
      allIds.add(s.id);
      if (s.type === "parallel") for (const branch of s.branches) collect(branch);
    }
  };
  for (const phase of plan.phases) collect(phase.steps);
  /** Step ids done before the point being checked (what an input may name). */
  let done = new Set<string>();
  let count = 0;

  const checkInput = (path: string, text: string, inMap: boolean, seen: Set<string>) => {
    for (const match of text.matchAll(REFERENCE)) {
      const ref = (match[1] ?? "").trim();
      if (ref === "item" || ref === "index") {
        if (!inMap) problems.push(`${path}: {{${ref}}} is only defined in a map step's input`);
        continue;
      }
      const step = /^steps\.([a-z][a-z0-9_]*)$/.exec(ref)?.[1];
      if (!step) {
        problems.push(
          `${path}: unknown reference {{${ref}}}; write {{steps.<id>}} for an earlier step's output${inMap ? ", {{item}} or {{index}}" : ""}`,
        );
        continue;
      }
      if (!seen.has(step))
        problems.push(
          `${path}: {{steps.${step}}} names no earlier step${allIds.has(step) ? ` (${step} does not run before this one)` : ""}; earlier steps here: ${listed([...seen])}`,
        );
      else if (steps[step]?.kind === "parallel")
        problems.push(`${path}: {{steps.${step}}} is a parallel step; name the steps inside its branches`);
    }
  };

  const walk = (list: WorkflowStep[], path: string, phase: number, depth: number): WorkflowNode[] =>
    list.map((step, i) => {
      const at = `${path}[${i}]`;
      count++;
      if (steps[step.id])
        problems.push(`${at}.id: "${step.id}" is used by another step; step ids are unique in a plan`);
      // An omitted call timeout is the default, within the run's own limit.
      const timeout =
        step.type === "parallel"
          ? 0
          : (step.timeout_seconds ?? Math.min(L.stepTimeout.default, timeoutSeconds));
      if (step.type !== "parallel") {
        const agent = resolve(step.agent);
        if (!agent)
          problems.push(
            `${at}.agent: no agent "${step.agent}" in this plan's reach; callable agents: ${listed(callable)}`,
          );
        checkInput(`${at}.input`, step.input, step.type === "map", done);
        if (step.type === "map" && !Array.isArray(step.items)) {
          const source = steps[step.items.from];
          if (!source || !done.has(step.items.from))
            problems.push(
              `${at}.items.from: "${step.items.from}" names no earlier step; earlier steps: ${listed([...done])}`,
            );
          else if (!source.listOutput)
            problems.push(
              `${at}.items.from: step "${step.items.from}" must declare "output": "list" to be mapped over`,
            );
        }
        if (step.type === "map" && Array.isArray(step.items)) items[step.id] = step.items;
        steps[step.id] = {
          id: step.id,
          kind: step.type,
          phase,
          ...(agent ? { agent } : {}),
          input: step.input,
          listOutput: step.type === "agent" && step.output === "list",
          retries: step.retries,
          timeoutSeconds: timeout,
        };
        if (timeout > timeoutSeconds)
          problems.push(
            `${at}.timeout_seconds: ${timeout} exceeds the run's timeout_seconds (${timeoutSeconds})`,
          );
        done.add(step.id);
        return step.type === "agent"
          ? {
              kind: "task",
              id: step.id,
              retries: step.retries,
              timeoutSeconds: timeout,
              listOutput: step.output === "list",
            }
          : {
              kind: "map",
              id: step.id,
              retries: step.retries,
              timeoutSeconds: timeout,
              maxConcurrency: step.max_concurrency,
              items: Array.isArray(step.items) ? { literal: true } : { fromStep: step.items.from },
            };
      }
      if (depth >= L.depth) problems.push(`${at}: parallel steps nest at most ${L.depth} deep`);
      steps[step.id] = { id: step.id, kind: "parallel", phase, retries: 0, timeoutSeconds: 0 };
      const before = done;
      const after = new Set(before);
      const branches = step.branches.map((branch, b) => {
        // A branch sees what ran before the parallel step and its own earlier steps, not its siblings'.
        done = new Set(before);
        const nodes = walk(branch, `${at}.branches[${b}]`, phase, depth + 1);
        for (const id of done) after.add(id);
        return nodes;
      });
      done = after;
      return { kind: "parallel", id: step.id, branches };
    });

  const phases = plan.phases.map((phase, p) => ({ nodes: walk(phase.steps, `phases[${p}].steps`, p, 0) }));
  if (count > L.steps) problems.push(`phases: ${count} steps; a plan has at most ${L.steps}`);

  const lastPhase = plan.phases.length - 1;
  const result =
    plan.result ??
    Object.values(steps)
      .filter((s) => s.phase === lastPhase && s.kind !== "parallel")
      .map((s) => s.id);
  (plan.result ?? []).forEach((id, i) => {
    if (!steps[id])
      problems.push(`result[${i}]: "${id}" names no step; steps: ${listed(Object.keys(steps))}`);
    else if (steps[id]?.kind === "parallel")
      problems.push(`result[${i}]: "${id}" is a parallel step; name its inner steps`);
  });
  if (problems.length > 0) return refuse(problems);
  return {
    ok: true,
    plan: {
      name: plan.name ?? null,
      description: plan.description ?? null,
      timeoutSeconds,
      phases: plan.phases.map((p) => ({ name: p.name, description: p.description ?? null })),
      steps,
      items,
      inlineAgents: inline,
      result,
      program: { timeoutSeconds, phases },
    },
  };
}

function listed(names: string[]): string {
  return names.length === 0 ? "(none)" : names.map((n) => `"${n}"`).join(", ");
}

function refuse(problems: string[]): PlanValidation {
  const shown = problems.slice(0, 8);
  const more = problems.length > shown.length ? ` (and ${problems.length - shown.length} more)` : "";
  return {
    ok: false,
    message: `The plan was refused: ${shown.join("; ")}${more}. Fix the plan and call start_workflow_run again.`,
  };
}

/** What a step's input is rendered with: earlier outputs (text), and a map call's item. */
export interface RenderContext {
  output(stepId: string): string;
  item?: unknown;
  index?: number;
}

/** Renders a validated step input: references become the outputs, items and indexes they name. */
export function renderStepInput(template: string, context: RenderContext): string {
  return template.replace(REFERENCE, (_whole, raw: string) => {
    const ref = raw.trim();
    if (ref === "item")
      return typeof context.item === "string" ? context.item : JSON.stringify(context.item ?? null);
    if (ref === "index") return String(context.index ?? 0);
    const step = /^steps\.([a-z][a-z0-9_]*)$/.exec(ref)?.[1];
    return step ? context.output(step) : _whole;
  });
}

/** The step ids a template names with `{{steps.<id>}}`. */
export function referencedSteps(template: string): string[] {
  const ids: string[] = [];
  for (const match of template.matchAll(REFERENCE)) {
    const step = /^steps\.([a-z][a-z0-9_]*)$/.exec((match[1] ?? "").trim())?.[1];
    if (step && !ids.includes(step)) ids.push(step);
  }
  return ids;
}
