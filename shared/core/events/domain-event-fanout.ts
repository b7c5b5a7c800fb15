/**
 * The DomainEvents port as wired: every domain event goes to the webhook outbox and the event bus;
 * a `satisfied` outcome also goes to the notification topic (SNS) with attributes operators filter
 * on. Publishing is at least once: callers retry on failure with the same event id.
 */
import type { DomainEvent, DomainEvents, EventBus, NotificationTopic } from "../ports.js";

/** The `source` of Reverie's events on the bus. */
export const eventSource = "reverie";

export class DomainEventFanout implements DomainEvents {
  constructor(
    private readonly targets: { webhooks?: DomainEvents; bus?: EventBus; topic?: NotificationTopic },
  ) {}

  async publish(event: DomainEvent): Promise<void> {
    await this.targets.webhooks?.publish(event);
    await this.targets.bus?.put([
      {
        source: eventSource,
        detailType: event.type,
        detail: { id: event.id, created_at: event.createdAt, workspace_id: event.workspaceId, ...event.data },
      },
    ]);
    if (
      this.targets.topic &&
      event.type === "session.outcome_evaluation_ended" &&
      event.data.result === "satisfied"
    ) {
      const attributes = {
        workspace: event.workspaceId,
        agent: String(event.data.agent_id ?? ""),
        session: String(event.data.id ?? ""),
        outcome: String(event.data.outcome_id ?? ""),
      };
      await this.targets.topic.publish({
        subject: `Outcome ${attributes.outcome} satisfied`,
        body: JSON.stringify({ type: event.type, id: event.id, created_at: event.createdAt, ...attributes }),
        attributes,
      });
    }
  }
}
