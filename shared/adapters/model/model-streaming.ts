/**
 * A streaming Messages call (`messages.stream`, the SDK's MessageStream) reported to a
 * {@link ModelStreamObserver} as it runs — content block starts and text deltas — and resolved
 * with the same final message a non-streaming call returns. The observer can never break the call:
 * what it throws is dropped (previews are best-effort).
 */
import type { MessageStream } from "@anthropic-ai/sdk/lib/MessageStream";
import type { ModelResponse, ModelStreamObserver } from "../../core/ports.js";

/** Feeds `stream`'s events to `observer` and resolves with its final message. */
export async function observedMessage(
  stream: Pick<MessageStream, "on" | "finalMessage">,
  observer: ModelStreamObserver,
): Promise<ModelResponse> {
  const safely = (report: () => void) => {
    try {
      report();
    } catch {
      // a preview that cannot be delivered is simply not seen
    }
  };
  stream.on("streamEvent", (event) => {
    if (event.type === "content_block_start")
      safely(() => observer.blockStart(event.index, event.content_block.type));
    else if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
      const text = event.delta.text;
      safely(() => observer.textDelta(event.index, text));
    }
  });
  return stream.finalMessage();
}
