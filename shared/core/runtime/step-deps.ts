/** Everything a step needs from outside, handed in by the composition root. */
import type { EventLog } from "../events/event-log.js";
import type { OutcomeSettings } from "../outcomes/outcome-settings.js";
import type {
  Clock,
  DocumentStore,
  DomainEvents,
  EventNotifier,
  HttpFetcher,
  IdGenerator,
  Logger,
  MessageQueue,
  ModelProvider,
  WorkspaceStore,
} from "../ports.js";
import type { SessionRepository } from "../sessions/session-record.js";
import type { RetryPolicy } from "./model-retry.js";
import type { StepMessage } from "./step-message.js";

export interface StepDeps {
  store: DocumentStore;
  sessions: SessionRepository;
  events: EventLog;
  notifier: EventNotifier;
  steps: MessageQueue<StepMessage>;
  model: ModelProvider;
  workspace: WorkspaceStore;
  fetcher: HttpFetcher;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  /** Webhooks / EventBridge / SNS, for lifecycle events. */
  domainEvents: DomainEvents;
  /** The grader queue and its settings; without it an outcome is never graded. */
  outcomes?: OutcomeSettings;
  retry: RetryPolicy;
  /** How long a step holds its lease, ms. */
  leaseMs: number;
}
