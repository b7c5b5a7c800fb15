/**
 * Wakes SSE followers in the same process as soon as an event is written. Across processes (AWS:
 * the stream Lambda is not the step Lambda) nobody notifies, and followers poll at the wait timeout.
 */
import { EventEmitter } from "node:events";
import type { EventNotifier } from "../../core/ports.js";
import { InProcessPreviews } from "./in-process-previews.js";

export class InProcessNotifier implements EventNotifier {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  /** Event previews (`event_deltas`) reach the streams of this process the same way. */
  readonly previews = new InProcessPreviews();

  notify(sessionId: string, written: readonly unknown[] = []): void {
    this.emitter.emit(sessionId, written);
  }

  subscribe(sessionId: string, listener: (written: readonly unknown[]) => void): () => void {
    this.emitter.on(sessionId, listener);
    return () => this.emitter.off(sessionId, listener);
  }

  wait(sessionId: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve(false);
      const finish = (notified: boolean) => {
        clearTimeout(timer);
        this.emitter.off(sessionId, onNotify);
        signal?.removeEventListener("abort", onAbort);
        resolve(notified);
      };
      const onNotify = () => finish(true);
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.emitter.once(sessionId, onNotify);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
