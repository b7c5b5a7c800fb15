/**
 * The embedded stack's SNS topic and EventBridge bus: in process, each message logged and handed to
 * subscribers (tests subscribe to assert what was published).
 */
import type { EventBus, Logger, NotificationTopic } from "../../core/ports.js";

type Listener<T> = (message: T) => void;

class Subscribers<T> {
  private readonly listeners = new Set<Listener<T>>();
  readonly received: T[] = [];
  subscribe(listener: Listener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(message: T) {
    this.received.push(message);
    for (const listener of this.listeners) listener(message);
  }
}

export type LocalNotification = { subject: string; body: string; attributes: Record<string, string> };
export type LocalBusEvent = { source: string; detailType: string; detail: Record<string, unknown> };

export class LocalNotificationTopic extends Subscribers<LocalNotification> implements NotificationTopic {
  constructor(private readonly logger: Logger) {
    super();
  }
  async publish(message: LocalNotification): Promise<void> {
    this.logger.info("sns (local): outcome notification", {
      subject: message.subject,
      ...message.attributes,
    });
    this.emit(message);
  }
}

export class LocalEventBus extends Subscribers<LocalBusEvent> implements EventBus {
  constructor(private readonly logger: Logger) {
    super();
  }
  async put(events: LocalBusEvent[]): Promise<void> {
    for (const event of events) {
      this.logger.info("eventbridge (local): domain event", {
        source: event.source,
        detailType: event.detailType,
      });
      this.emit(event);
    }
  }
}
