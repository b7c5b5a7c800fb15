/**
 * Publishes `<kind>.created` / `.updated` / `.archived` / `.deleted` domain events (webhooks,
 * EventBridge) for a control-plane service by wrapping its methods, so the services themselves stay
 * unaware of delivery. A failed publish is logged and does not fail the request that already
 * succeeded; lifecycle events of running sessions, which must not be lost, are published by the
 * runtime from the retried code paths instead (lifecycle-publishing.ts).
 */
import type { Clock, DomainEvents, IdGenerator, Logger } from "../ports.js";

export interface LifecyclePublisher {
  domainEvents: DomainEvents;
  ids: IdGenerator;
  clock: Clock;
  logger: Logger;
}

/**
 * Wraps `methods` of `service` (each called as `(workspaceId, …)` and resolving to something with an
 * `id`) to publish `<kind>.<suffix>` after it succeeds.
 *
 * ```ts
 * const agents = withLifecycleEvents(new AgentsService(…), "agent", { create: "created" }, publisher);
 * ```
 */
export function withLifecycleEvents<T extends object>(
  service: T,
  kind: string,
  methods: Partial<Record<keyof T & string, string>>,
  publisher: LifecyclePublisher,
): T {
  for (const [method, suffix] of Object.entries(methods) as Array<[string, string]>) {
    const original = (service as Record<string, unknown>)[method] as (...args: unknown[]) => Promise<unknown>;
    (service as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      const result = await original.apply(service, args);
      const id = (result as { id?: unknown } | undefined)?.id ?? args[1];
      await publishLifecycleEvent(publisher, `${kind}.${suffix}`, String(args[0]), String(id));
      return result;
    };
  }
  return service;
}

/** Publishes one control-plane lifecycle event with a fresh id; a failure is logged, not thrown. */
export async function publishLifecycleEvent(
  publisher: LifecyclePublisher,
  type: string,
  workspaceId: string,
  subjectId: string,
): Promise<void> {
  try {
    await publisher.domainEvents.publish({
      type,
      id: publisher.ids.next("wevt"),
      workspaceId,
      createdAt: new Date(publisher.clock.now()).toISOString(),
      data: { id: subjectId },
    });
  } catch (error) {
    publisher.logger.error("publishing a lifecycle event failed", { type, subjectId, error: String(error) });
  }
}
