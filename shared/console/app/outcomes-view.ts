/** A session's outcomes: each evaluation's verdict and, per criterion, the finding and how it was decided. */
import type { ReverieApi } from "./api.js";
import { type Loose, when } from "./format.js";
import { html } from "./html.js";
import { LoadError, useLoad } from "./use-api.js";

type Criterion = {
  criterion: string;
  method: "machine" | "model";
  satisfied: boolean | null;
  finding: string;
};
type Findings = {
  iteration: number;
  result: string;
  explanation: string | null;
  criteria: Criterion[];
  graded_at?: string;
};
type OutcomeInfo = {
  outcome_id: string;
  description: string;
  result: string;
  iteration: number;
  explanation: string | null;
};

function Outcome({ api, sessionId, outcome }: { api: ReverieApi; sessionId: string; outcome: OutcomeInfo }) {
  const findings = useLoad(
    () =>
      api
        .get<{ data: Findings[] }>(`/v1/sessions/${sessionId}/outcomes/${outcome.outcome_id}/evaluations`)
        .then((r) => r.data),
    [api, sessionId, outcome.outcome_id, outcome.iteration, outcome.result],
  );
  return html`<article class="card outcome" aria-labelledby=${`o-${outcome.outcome_id}`}>
    <h2 class="h3" id=${`o-${outcome.outcome_id}`}>${outcome.description}</h2>
    <p><span class=${`badge verdict-${outcome.result}`}>${outcome.result}</span> after iteration ${outcome.iteration}
      <span class="muted small"> ${outcome.outcome_id}</span></p>
    ${outcome.explanation ? html`<p class="text">${outcome.explanation}</p>` : null}
    <${LoadError} error=${findings.error} />
    ${(findings.data ?? []).map(
      (f) => html`<div class="table-wrap"><table class="criteria">
        <caption>Iteration ${f.iteration}: <span class=${`badge verdict-${f.result}`}>${f.result}</span>
          ${f.graded_at ? html`<span class="muted small"> graded ${when(f.graded_at)}</span>` : null}</caption>
        <thead><tr><th scope="col">Criterion</th><th scope="col">Verdict</th><th scope="col">Decided by</th><th scope="col">Finding</th></tr></thead>
        <tbody>${f.criteria.map(
          (c) => html`<tr>
            <td>${c.criterion}</td>
            <td><span class=${`badge ${c.satisfied === true ? "ok" : c.satisfied === false ? "error" : ""}`}>${
              c.satisfied === true ? "met" : c.satisfied === false ? "not met" : "cannot judge"
            }</span></td>
            <td>${c.method === "machine" ? "machine check" : "grader model"}</td>
            <td>${c.finding}</td>
          </tr>`,
        )}</tbody>
      </table></div>`,
    )}
  </article>`;
}

export function OutcomesView({
  api,
  sessionId,
  session,
}: {
  api: ReverieApi;
  sessionId: string;
  session: Loose | undefined;
}) {
  const all = (session?.outcome_evaluations ?? []) as OutcomeInfo[];
  // The latest state of each outcome.
  const latest = new Map<string, OutcomeInfo>();
  for (const o of all) latest.set(o.outcome_id, o);
  if (!session) return html`<p class="muted">Loading…</p>`;
  if (latest.size === 0) return html`<p class="muted">This session has no outcome.</p>`;
  return html`<section aria-label="Outcomes">${[...latest.values()].map(
    (o) => html`<${Outcome} key=${o.outcome_id} api=${api} sessionId=${sessionId} outcome=${o} />`,
  )}</section>`;
}
