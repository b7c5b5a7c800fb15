/**
 * Wakes SSE followers in the same process as soon as an event is written. Across processes (AWS:
 * the stream Lambda is not the step Lambda) nobody notifies, and followers poll at the wait timeout.
 */
import { EventEmitter } from "node:events";
import type { EventNotifier } from "../../core/ports.js";

export class InProcessNotifier implements EventNotifier {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  notify(sessionId: string): void {
    this.emitter.emit(sessionId);
  }

  wait(sessionId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.emitter.off(sessionId, done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.emitter.once(sessionId, done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}
