/** The SDK's own types, re-exported under short names: the contract every serializer is checked against. */
export type {
  BetaManagedAgentsAgent as Agent,
  BetaManagedAgentsAgentToolset20260401 as AgentToolset,
  BetaManagedAgentsCustomTool as CustomTool,
} from "@anthropic-ai/sdk/resources/beta/agents/agents";
export type { BetaEnvironment as Environment } from "@anthropic-ai/sdk/resources/beta/environments/environments";
export type {
  BetaManagedAgentsActor as MemoryActor,
  BetaManagedAgentsMemory as Memory,
  BetaManagedAgentsMemoryPrefix as MemoryPrefix,
  BetaManagedAgentsMemoryStore as MemoryStore,
  BetaManagedAgentsMemoryVersion as MemoryVersion,
} from "@anthropic-ai/sdk/resources/beta/memory-stores/index";
export type {
  BetaManagedAgentsEventParams as EventParams,
  BetaManagedAgentsSessionEvent as SessionEvent,
  BetaManagedAgentsSessionEventType as SessionEventType,
  BetaManagedAgentsSessionStatusIdleEvent as SessionStatusIdleEvent,
  BetaManagedAgentsSpanModelUsage as SpanModelUsage,
} from "@anthropic-ai/sdk/resources/beta/sessions/events";
export type {
  BetaManagedAgentsBudgetLimit as BudgetLimit,
  BetaManagedAgentsSession as Session,
  BetaManagedAgentsSessionAgent as SessionAgent,
  BetaManagedAgentsSessionUsage as SessionUsage,
} from "@anthropic-ai/sdk/resources/beta/sessions/sessions";
