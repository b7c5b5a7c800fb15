/**
 * Event previews (`event_start` / `event_delta`) from a step to the open event streams of the same
 * process. Nothing is kept: a stream that opens later, or one in another process (AWS: the stream
 * Lambda is not the step Lambda), never sees them — previews are best-effort by contract, and the
 * buffered event that follows carries the whole content.
 */
import { EventEmitter } from "node:events";
import type { EventPreview, EventPreviews } from "../../core/ports.js";

export class InProcessPreviews implements EventPreviews {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  listening(runId: string): boolean {
    return this.emitter.listenerCount(runId) > 0;
  }

  publish(runId: string, preview: EventPreview): void {
    this.emitter.emit(runId, preview);
  }

  subscribe(runId: string, listener: (preview: EventPreview) => void): () => void {
    this.emitter.on(runId, listener);
    return () => this.emitter.off(runId, listener);
  }
}
