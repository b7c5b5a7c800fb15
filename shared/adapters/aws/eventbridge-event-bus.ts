/** EventBus on Amazon EventBridge: PutEvents in batches of 10; a partially failed batch throws (the caller retries). */
import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { EventBus } from "../../core/ports.js";

export class EventBridgeEventBus implements EventBus {
  constructor(private readonly options: { client: EventBridgeClient; busName: string }) {}

  async put(
    events: Array<{ source: string; detailType: string; detail: Record<string, unknown> }>,
  ): Promise<void> {
    for (let i = 0; i < events.length; i += 10) {
      const result = await this.options.client.send(
        new PutEventsCommand({
          Entries: events.slice(i, i + 10).map((e) => ({
            EventBusName: this.options.busName,
            Source: e.source,
            DetailType: e.detailType,
            Detail: JSON.stringify(e.detail),
          })),
        }),
      );
      if ((result.FailedEntryCount ?? 0) > 0) {
        const reason = result.Entries?.find((entry) => entry.ErrorCode)?.ErrorMessage ?? "unknown";
        throw new Error(`EventBridge rejected ${result.FailedEntryCount} event(s): ${reason}`);
      }
    }
  }
}
