/**
 * The DomainEvents port for webhooks: an event becomes one durable delivery record per subscribed
 * endpoint (its key makes this idempotent), a place in the subject's delivery lane (order), an entry
 * in the pending index (the sweeper's) and a nudge on the webhooks queue. Publishing the same event
 * again duplicates nothing, and nudges again only a delivery whose nudge looks lost.
 */
import {
  type Clock,
  ConditionFailedError,
  type DocumentStore,
  type DomainEvent,
  type DomainEvents,
  type Logger,
  type MessageQueue,
} from "../ports.js";
import { enterPendingIndex, type NudgeDeps, nudgeAgain, nudgeOf, nudgeOverdue } from "./webhook-nudges.js";
import {
  type DeliveryRecord,
  deliveryKey,
  deliveryRecordSchema,
  endpointKey,
  endpointRecordSchema,
  laneKey,
  padLane,
  type WebhookMessage,
} from "./webhook-records.js";

/** The thin payload Anthropic sends: the event's type and subject ids, never the subject itself. */
export function webhookPayload(event: DomainEvent): string {
  return JSON.stringify({
    type: "event",
    id: event.id,
    created_at: event.createdAt,
    data: {
      ...event.data,
      type: event.type,
      id: event.data.id ?? event.id,
      workspace_id: event.workspaceId,
      organization_id: event.data.organization_id ?? event.workspaceId,
    },
  });
}

export class WebhookOutbox implements DomainEvents {
  private readonly nudges: NudgeDeps;

  constructor(
    private readonly store: DocumentStore,
    private readonly queue: MessageQueue<WebhookMessage>,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {
    this.nudges = { store, queue, clock };
  }

  async publish(event: DomainEvent): Promise<void> {
    const endpoints = (await this.store.query("resources", endpointKey(event.workspaceId)))
      .map((item) => endpointRecordSchema.parse(item))
      .filter((e) => e.state === "enabled" && e.enabled_events.includes(event.type));
    for (const endpoint of endpoints) {
      const { delivery, recorded } = await this.record(endpoint.id, event);
      if (recorded) await this.queue.send(nudgeOf(delivery));
      // A republish (a retried grader, step or deployment run) finds the record. Another nudge while
      // one is due or an attempt is in flight would only chase it, so it nudges only a delivery whose
      // nudge looks lost (the sweeper would otherwise, a little later).
      else if (nudgeOverdue(delivery, this.clock.now())) await nudgeAgain(this.nudges, delivery);
    }
  }

  /** Records the delivery once: a retried publish finds the record and keeps its lane position. */
  private async record(
    endpointId: string,
    event: DomainEvent,
  ): Promise<{ delivery: DeliveryRecord; recorded: boolean }> {
    const existing = await this.store.get("resources", deliveryKey(endpointId), event.id);
    if (existing) return { delivery: deliveryRecordSchema.parse(existing), recorded: false };
    const subject = String(event.data.id ?? event.id);
    const lane = laneKey(endpointId, subject);
    const laneSeq = await this.store.increment("resources", `seq#${lane}`, "seq", "value", 1);
    const delivery: DeliveryRecord = {
      schemaVersion: 1,
      endpointId,
      workspaceId: event.workspaceId,
      eventId: event.id,
      eventType: event.type,
      payload: webhookPayload(event),
      lane,
      laneSeq,
      status: "pending",
      attempts: 0,
      createdAt: event.createdAt,
      generation: 0,
      // The nudge follows the record: if this process dies first, the sweeper sends it from here.
      nudgedAt: this.clock.now(),
      rev: 1,
    };
    // The pending-index entry comes before the record: a crash in between leaves an entry the
    // sweeper drops once it is old and still has no record, never a delivery it cannot find.
    await enterPendingIndex(this.nudges, endpointId, event.id);
    try {
      await this.store.put(
        "resources",
        { pk: deliveryKey(endpointId), sk: event.id, ...delivery },
        { ifNotExists: true },
      );
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      const raced = deliveryRecordSchema.parse(
        await this.store.get("resources", deliveryKey(endpointId), event.id),
      );
      return { delivery: raced, recorded: false };
    }
    // The lane entry comes after the record: a crash in between leaves a delivery without a
    // predecessor check, never a lane entry that points at nothing.
    await this.store.put("resources", { pk: lane, sk: padLane(laneSeq), eventId: event.id });
    this.logger.info("webhook delivery recorded", { endpointId, eventId: event.id, type: event.type });
    return { delivery, recorded: true };
  }
}
