/**
 * `event_deltas` (SDK 1.15): previews of an event while the model writes it. A step's model call
 * reports its content blocks through a {@link MessagePreviewer}, which publishes `event_start` (the
 * id the buffered `agent.message` / `agent.thinking` will carry) and `event_delta` fragments on the
 * run's non-durable {@link EventPreviews} channel; {@link withPreviews} merges them into the event
 * streams that asked for them. Previews are best-effort: never stored, never resumable (no SSE id),
 * and a model call that fails leaves its preview without a buffered event.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { InvalidRequestError } from "../../contract/errors.js";
import type { EventPreview, EventPreviews, ModelStreamObserver } from "../ports.js";

export type DeltaType = Anthropic.Beta.Sessions.BetaManagedAgentsDeltaType;

const DELTA_TYPES: readonly DeltaType[] = ["agent.message", "agent.thinking"];

/** The `event_deltas` query values as a set; an unknown type is a 400 naming the accepted ones. */
export function deltaTypesOf(values: readonly string[] | undefined): ReadonlySet<DeltaType> {
  const types = new Set<DeltaType>();
  for (const value of values ?? []) {
    // `event_deltas[]=a&event_deltas[]=b`, and a comma list for hand-written URLs
    for (const type of value.split(",").map((v) => v.trim())) {
      if (!DELTA_TYPES.includes(type as DeltaType))
        throw new InvalidRequestError(
          `event_deltas: ${JSON.stringify(type.slice(0, 64))} is not a previewable event type (${DELTA_TYPES.join(", ")})`,
        );
      types.add(type as DeltaType);
    }
  }
  return types;
}

/**
 * The observer a step passes to its model call: each text block becomes an `agent.message` preview
 * and each thinking block an `agent.thinking` preview (start-only, as the SDK documents), with the
 * event id allocated up front; {@link idsByBlock} hands those ids to the step record so that the
 * buffered events carry them.
 */
export class MessagePreviewer implements ModelStreamObserver {
  readonly #ids = new Map<number, string>();
  constructor(
    private readonly channel: EventPreviews,
    private readonly runId: string,
    private readonly nextEventId: () => string,
  ) {}

  /** Event ids by content-block index, for the blocks that were previewed. */
  get idsByBlock(): ReadonlyMap<number, string> {
    return this.#ids;
  }

  blockStart(index: number, type: string): void {
    const previewed = type === "text" ? "agent.message" : type === "thinking" ? "agent.thinking" : undefined;
    if (!previewed) return;
    const id = this.nextEventId();
    this.#ids.set(index, id);
    this.channel.publish(this.runId, { type: "event_start", event: { type: previewed, id } });
  }

  textDelta(index: number, text: string): void {
    const eventId = this.#ids.get(index);
    if (!eventId || text === "") return;
    // A buffered agent.message holds one text block: every fragment lands in content[0].
    this.channel.publish(this.runId, {
      type: "event_delta",
      event_id: eventId,
      delta: { type: "content_delta", index: 0, content: { type: "text", text } },
    });
  }
}

/** A previewer for a step's model call, or undefined when no stream of the run wants previews. */
export function previewerFor(
  channel: EventPreviews | undefined,
  runId: string,
  nextEventId: () => string,
): MessagePreviewer | undefined {
  return channel?.listening(runId) ? new MessagePreviewer(channel, runId, nextEventId) : undefined;
}

/** What an event stream yields once previews are merged in. */
export type PreviewedEntry<Entry> = Entry | { preview: EventPreview };

/**
 * Merges `entries` (a followed event log) with the previews of `runId` that `types` asks for,
 * in the order they happen. It listens from the moment it is called (not from the first read), so
 * a model call that starts right after the stream opened is previewed; `signal` (the stream's end)
 * stops listening even if the stream is never read. Deltas of a preview whose start was filtered
 * out (or happened before this stream listened) are dropped: a client never gets a delta it cannot
 * place.
 */
export function withPreviews<Entry>(
  entries: AsyncIterable<Entry>,
  channel: EventPreviews | undefined,
  runId: string,
  types: ReadonlySet<DeltaType>,
  signal?: AbortSignal,
): AsyncGenerator<PreviewedEntry<Entry>> {
  if (!channel || types.size === 0 || signal?.aborted) return passThrough(entries);
  const queue: EventPreview[] = [];
  const started = new Set<string>();
  let wake: (() => void) | undefined;
  const unsubscribe = channel.subscribe(runId, (preview) => {
    if (preview.type === "event_start") {
      if (!types.has(preview.event.type)) return;
      started.add(preview.event.id);
    } else if (!started.has(preview.event_id)) return;
    queue.push(preview);
    wake?.();
  });
  signal?.addEventListener("abort", unsubscribe, { once: true });

  async function* merged(): AsyncGenerator<PreviewedEntry<Entry>> {
    const iterator = entries[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<Entry>> | undefined;
    try {
      for (;;) {
        while (queue.length > 0) yield { preview: queue.shift() as EventPreview };
        pending ??= iterator.next();
        const previewed = new Promise<"preview">((resolve) => {
          wake = () => resolve("preview");
        });
        const next = await Promise.race([pending, previewed]);
        wake = undefined;
        if (next === "preview") continue;
        pending = undefined;
        if (next.done) return;
        // The buffered event concludes its preview.
        const id = (next.value as { event?: { id?: unknown } }).event?.id;
        if (typeof id === "string") started.delete(id);
        yield next.value;
      }
    } finally {
      unsubscribe();
      signal?.removeEventListener("abort", unsubscribe);
      await iterator.return?.();
    }
  }
  return merged();
}

async function* passThrough<Entry>(entries: AsyncIterable<Entry>): AsyncGenerator<Entry> {
  yield* entries;
}
