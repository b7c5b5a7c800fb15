/** How a self-hosted worker's memory writes are recorded (they arrive through the API with its sessions token). */
import type { StepDeps } from "../runtime/step-deps.js";
import { isWorkerTool } from "../runtime/worker-tools.js";
import { taintSources } from "./content-safety.js";
import type { WriteContext } from "./memories-service.js";

/**
 * How a worker's memory sync (`memories.create/update/delete` with its sessions token) is recorded:
 * as the session (`session_actor`), with the session's taint and the latest worker tool call as
 * provenance — as mount writes from the cloud toolset are. Content is stored byte for byte (the
 * worker compares `content_sha256` with its local copy).
 */
export async function workerWriteContext(deps: StepDeps, sessionId: string): Promise<WriteContext> {
  const log = await deps.events.read(sessionId);
  const sources = taintSources(log);
  const lastCall = log.findLast((e) => e.event.type === "agent.tool_use" && isWorkerTool(e.event.name));
  return {
    actor: { type: "session_actor", session_id: sessionId },
    provenance: {
      tool_use_event_id: lastCall?.event.id ?? null,
      tainted: sources.length > 0,
      taint_sources: sources,
    },
  };
}
