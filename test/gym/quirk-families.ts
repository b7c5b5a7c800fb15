/**
 * The quirk gym's task families. Each is a recurring job that needs one custom tool with a quirk an
 * agent can only learn by experience: the tool rejects the obvious call, and its error says what it
 * accepts (as real tools often do, in their own words). The quirk lives in the tool — served by the
 * gym as the client answering `agent.custom_tool_use` — never in the task text.
 *
 * A session **completes** when the tool accepted the work and no call was rejected on the way: in the
 * jobs these stand for, a rejected call has a cost (a failed deploy, a throttled key, a reviewer's
 * round trip). An agent that recovers inside the session still pays it; one that remembered does not.
 *
 * Each family's task is given in two forms: `task` in plain words (for a real model) and `simulated`,
 * the explicit instruction the simulated model parses. Neither mentions the quirk; both ask the agent
 * to look at its memory first, as any agent with a memory store mounted would.
 */

export interface QuirkFamily {
  /** Short id, used in the table and the chart. */
  id: string;
  /** The kind of quirk, as the issue lists them. */
  quirk: string;
  tool: { name: string; description: string; input_schema: Record<string, unknown> };
  /** What the agent is asked, in plain words (real models). */
  task: string;
  /** The obvious call: what an agent without the lesson makes. */
  obvious: Record<string, unknown>;
  /** Whether the tool accepts an input. */
  accepts(input: Record<string, unknown>): boolean;
  /** The tool's error for an input it rejects (says what it accepts, in the tool's words). */
  rejection: string;
  /** What the tool returns on success. */
  success: string;
}

const object = (properties: Record<string, unknown>, required: string[]) => ({
  type: "object",
  properties,
  required,
});

/** The simulated model's form of a family's task: read memory, then the obvious call. */
export function simulatedTask(family: QuirkFamily, memoryMount: string | undefined): string {
  const memory = memoryMount
    ? `search for "Recurring error|Failing input|Workaround" in ${memoryMount} then `
    : "";
  return `${memory}call ${family.tool.name} with ${JSON.stringify(family.obvious)}`;
}

/** The plain-words form for a real model. */
export function plainTask(family: QuirkFamily, memoryMount: string | undefined): string {
  const memory = memoryMount
    ? `Before you start, check your memory at ${memoryMount} for notes about this tool. `
    : "";
  return `${memory}${family.task} Use the ${family.tool.name} tool; when it reports success, say so and stop.`;
}

const str = { type: "string" };

export const QUIRK_FAMILIES: QuirkFamily[] = [
  {
    id: "doc-convert",
    quirk: "a file type needs a conversion step",
    tool: {
      name: "summarize_file",
      description: "Summarise a document from the shared drive.",
      input_schema: object({ file: str, convert: str }, ["file"]),
    },
    task: "Summarise the document q3-report.docx from the shared drive.",
    obvious: { file: "q3-report.docx" },
    accepts: (i) => i.file === "q3-report.docx" && i.convert === "docx->txt",
    rejection:
      "cannot read .docx directly: such files go through a conversion step first. A valid call: " +
      '{"file":"q3-report.docx","convert":"docx->txt"}',
    success: "accepted: summary of q3-report.docx: revenue up 4%, costs flat.",
  },
  {
    id: "deploy-flag",
    quirk: "a tool needs a non-obvious flag",
    tool: {
      name: "deploy_service",
      description: "Deploy a service to production.",
      input_schema: object({ service: str, flags: { type: "array", items: str } }, ["service"]),
    },
    task: "Deploy the billing service to production.",
    obvious: { service: "billing" },
    accepts: (i) =>
      i.service === "billing" && Array.isArray(i.flags) && i.flags.includes("--confirm-region=eu-west-1"),
    rejection:
      "deploy refused: production deploys are region-pinned and must confirm their region. A valid call: " +
      '{"service":"billing","flags":["--confirm-region=eu-west-1"]}',
    success: "accepted: billing deployed (eu-west-1).",
  },
  {
    id: "cursor-pages",
    quirk: "an API paginates in a particular way",
    tool: {
      name: "fetch_orders",
      description: "Fetch a page of yesterday's orders.",
      input_schema: object({ page: { type: "integer" }, cursor: str }, []),
    },
    task: "Fetch the second page of yesterday's orders.",
    obvious: { page: 2 },
    accepts: (i) => i.cursor === "c_2" && i.page === undefined,
    rejection:
      "page numbers are not supported: this API pages by opaque cursor, c_<n> for page n. A valid call: " +
      '{"cursor":"c_2"}',
    success: "accepted: 25 orders (page 2).",
  },
  {
    id: "rate-limit",
    quirk: "an API rate-limits in a particular way",
    tool: {
      name: "notify_customers",
      description: "Queue notification e-mails for the customers of a campaign.",
      input_schema: object({ campaign: str, count: { type: "integer" }, batch: str }, ["campaign"]),
    },
    task: "Queue the 50 notification e-mails of campaign spring-sale.",
    obvious: { campaign: "spring-sale", count: 50 },
    accepts: (i) => i.campaign === "spring-sale" && i.count === 10 && i.batch === "1/5",
    rejection:
      "429 throttled: at most 10 per call, in numbered batches (the service queues the other batches itself). A valid call: " +
      '{"campaign":"spring-sale","count":10,"batch":"1/5"}',
    success: "accepted: batch 1/5 queued; the remaining batches follow automatically.",
  },
  {
    id: "date-format",
    quirk: "a tool needs an input format that is not the obvious one",
    tool: {
      name: "export_ledger",
      description: "Export the ledger since a date.",
      input_schema: object({ since: str }, ["since"]),
    },
    task: "Export the ledger since the first of January 2026.",
    obvious: { since: "2026-01-01" },
    accepts: (i) => i.since === "01/01/2026",
    rejection:
      'invalid date "2026-01-01": the exporter reads DD/MM/YYYY. A valid call: {"since":"01/01/2026"}',
    success: "accepted: ledger exported (412 rows).",
  },
  {
    id: "case-lookup",
    quirk: "a lookup fails unless its key is normalised",
    tool: {
      name: "lookup_customer",
      description: "Look a customer up by e-mail address.",
      input_schema: object({ email: str }, ["email"]),
    },
    task: "Look up the customer Ada.Lovelace@Example.com.",
    obvious: { email: "Ada.Lovelace@Example.com" },
    accepts: (i) => i.email === "ada.lovelace@example.com",
    rejection:
      "no customer Ada.Lovelace@Example.com: addresses are stored lower-case and matched exactly. A valid call: " +
      '{"email":"ada.lovelace@example.com"}',
    success: "accepted: customer cus_1815 (Ada Lovelace).",
  },
  {
    id: "reviewer-taste",
    quirk: "a grader preference that is not in the task text",
    tool: {
      name: "submit_summary",
      description: "Submit the weekly summary for review.",
      input_schema: object({ summary: str, format: str }, ["summary"]),
    },
    task: "Submit this week's summary: revenue grew and churn fell.",
    obvious: { summary: "Revenue grew and churn fell.", format: "prose" },
    accepts: (i) => i.format === "bullets" && typeof i.summary === "string" && i.summary.startsWith("- "),
    rejection:
      "returned by the reviewer: this team's reviewers only take bullet lists. A valid call: " +
      '{"summary":"- Revenue grew.\\n- Churn fell.","format":"bullets"}',
    success: "accepted: the summary was approved by the reviewer.",
  },
  {
    id: "sql-dialect",
    quirk: "a workaround discovered after an error",
    tool: {
      name: "run_query",
      description: "Run a read-only SQL query on the warehouse.",
      input_schema: object({ sql: str }, ["sql"]),
    },
    task: "List the names of the first five users in the warehouse.",
    obvious: { sql: "SELECT name FROM users LIMIT 5" },
    accepts: (i) => typeof i.sql === "string" && /^SELECT TOP 5 name FROM users$/i.test(i.sql),
    rejection:
      "syntax error near LIMIT: the warehouse speaks T-SQL (TOP n, not LIMIT). A valid call: " +
      '{"sql":"SELECT TOP 5 name FROM users"}',
    success: "accepted: ada, grace, edsger, barbara, donald.",
  },
];
