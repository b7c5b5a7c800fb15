/** EventBus on Amazon EventBridge: PutEvents in batches of 10; a partially failed batch throws (the caller retries). */
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { EventBus } from "../../core/ports.js";
import { type SdkClient, sdkClientGetter } from "./sdk-client.js";

export class EventBridgeEventBus implements EventBus {
  private readonly client: () => Promise<EventBridgeClient>;

  constructor(private readonly options: { client: SdkClient<EventBridgeClient>; busName: string }) {
    this.client = sdkClientGetter(options.client);
  }

  async put(
    events: Array<{ source: string; detailType: string; detail: Record<string, unknown> }>,
  ): Promise<void> {
    if (events.length === 0) return;
    const { PutEventsCommand } = await import("@aws-sdk/client-eventbridge");
    const client = await this.client();
    for (let i = 0; i < events.length; i += 10) {
      const result = await client.send(
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
