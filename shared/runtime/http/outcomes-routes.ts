/**
 * Outcome routes beyond the SDK (a Reverie extension, see README "Outcomes"):
 * `GET /v1/sessions/{session_id}/outcomes/{outcome_id}/evaluations` returns each evaluation's
 * per-criterion findings and how each criterion was decided (machine check or grader model).
 */
import type { OutcomesService } from "../../core/outcomes/outcomes-service.js";
import { json, workspaceOf as ws } from "./request-parsing.js";
import type { Router } from "./router.js";

export function addOutcomeRoutes(router: Router, outcomes: OutcomesService): Router {
  return router.add("GET", "/v1/sessions/{session_id}/outcomes/{outcome_id}/evaluations", async (r, p) =>
    json(await outcomes.findings(ws(r), p.session_id as string, p.outcome_id as string)),
  );
}
