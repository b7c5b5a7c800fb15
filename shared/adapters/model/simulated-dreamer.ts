/**
 * The simulated model as the dreamer agent: a fixed, mechanical procedure over the dreamer's own tools,
 * one tool call per turn, its progress read back from the conversation (it keeps no state):
 *
 *   list_dream_sessions → read_session_events, page by page, for each session → glob and read the
 *   input mount (stores of ≤ 50 files) → the code pre-pass and the mechanical dream
 *   (mechanical-dreamer.ts) over what it read → one write per new or changed note in the draft →
 *   delete_memory for each merged duplicate → finish_dream with the evidence → end of turn.
 *
 * It learns nothing a human could not read off the transcripts with four heuristics; it exists so
 * that the offline stack and the tests run the real agentic path — tools, mounts, guards — end to end.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { SessionEvent } from "../../contract/sdk-types.js";
import type { StoreFile } from "../../core/dreams/dream-guards.js";
import { DREAM_INPUT_MOUNT, DREAM_OUTPUT_MOUNT, DREAMER_MARKER } from "../../core/dreams/dreamer-agent.js";
import { DREAMER_TOOL_NAMES } from "../../core/dreams/dreamer-tools.js";
import { dreamMechanically } from "../../core/dreams/mechanical-dreamer.js";
import { runPrePass, type SessionTranscript } from "../../core/dreams/pre-pass.js";
import type { ModelRequest } from "../../core/ports.js";

type ContentBlock = Anthropic.Messages.ContentBlock;

/** Most input files the simulated dreamer reads one by one (larger stores: notes only, no merging). */
const MAX_FILES_READ = 50;

/** Whether a request is the dreamer's (its system prompt starts with the dreamer's marker). */
export function isDreamerRequest(request: ModelRequest): boolean {
  const system = request.system;
  if (typeof system === "string") return system.startsWith(DREAMER_MARKER);
  return (system ?? []).some((block) => block.text.startsWith(DREAMER_MARKER));
}

interface Call {
  name: string;
  input: Record<string, unknown>;
  result?: { text: string; isError: boolean };
}

function callsOf(request: ModelRequest): Call[] {
  const results = new Map<string, { text: string; isError: boolean }>();
  for (const m of request.messages) {
    if (m.role !== "user" || typeof m.content === "string") continue;
    for (const block of m.content) {
      if (block.type !== "tool_result") continue;
      const content = block.content;
      const text =
        typeof content === "string"
          ? content
          : (content ?? []).map((p) => (p.type === "text" ? p.text : "")).join("\n");
      results.set(block.tool_use_id, { text, isError: block.is_error === true });
    }
  }
  const calls: Call[] = [];
  for (const m of request.messages) {
    if (m.role !== "assistant" || typeof m.content === "string") continue;
    for (const block of m.content) {
      if (block.type === "tool_use")
        calls.push({
          name: block.name,
          input: (block.input ?? {}) as Record<string, unknown>,
          result: results.get(block.id),
        });
    }
  }
  return calls;
}

const json = (text: string | undefined): Record<string, unknown> | undefined => {
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

/** The dreamer's next move, as content blocks (the tool_use id is filled in by the caller). */
export function simulatedDreamerTurn(request: ModelRequest, prefix: string): ContentBlock[] {
  const calls = callsOf(request);
  const offered = new Set((request.tools ?? []).map((t) => ("name" in t ? t.name : "")));
  const forced = (request.tool_choice as { type?: string; name?: string } | undefined)?.name;
  const call = (name: string, input: Record<string, unknown>, note: string): ContentBlock[] => [
    { type: "text", text: `${prefix} ${note}`, citations: null },
    { type: "tool_use", id: "", name, input, caller: { type: "direct" } },
  ];
  const done = (text: string): ContentBlock[] => [
    { type: "text", text: `${prefix} ${text}`, citations: null },
  ];

  const finished = calls.find((c) => c.name === DREAMER_TOOL_NAMES.finish && c.result && !c.result.isError);
  if (finished && forced !== DREAMER_TOOL_NAMES.finish) return done("Dream finished.");

  // 1. Which sessions.
  const listed = calls.find((c) => c.name === DREAMER_TOOL_NAMES.list && c.result && !c.result.isError);
  if (!listed && forced !== DREAMER_TOOL_NAMES.finish && offered.has(DREAMER_TOOL_NAMES.list))
    return call(DREAMER_TOOL_NAMES.list, {}, "Listing this dream's sessions.");
  const sessionIds = ((json(listed?.result?.text)?.sessions as Array<{ session_id: string }>) ?? []).map(
    (s) => s.session_id,
  );

  // 2. Every session's events, page by page.
  const events = new Map<string, SessionEvent[]>(sessionIds.map((id) => [id, []]));
  const nextPage = new Map<string, number | null>();
  for (const c of calls) {
    if (c.name !== DREAMER_TOOL_NAMES.read || !c.result || c.result.isError) continue;
    const page = json(c.result.text) as
      | { session_id: string; events: Array<SessionEvent & { seq: number }>; next_after_seq: number | null }
      | undefined;
    if (!page) continue;
    events.get(page.session_id)?.push(...page.events);
    nextPage.set(page.session_id, page.next_after_seq);
  }
  if (forced !== DREAMER_TOOL_NAMES.finish) {
    for (const id of sessionIds) {
      const next = nextPage.has(id) ? nextPage.get(id) : 0;
      if (next !== null && next !== undefined)
        return call(
          DREAMER_TOOL_NAMES.read,
          { session_id: id, after_seq: next, limit: 50 },
          `Reading session ${id} from event ${next + 1}.`,
        );
    }
  }

  // 3. The input store: list it, then read it file by file (small stores only).
  const globbed = calls.find((c) => c.name === "glob");
  if (!globbed && forced !== DREAMER_TOOL_NAMES.finish)
    return call("glob", { pattern: "**/*", path: DREAM_INPUT_MOUNT }, "Listing the input store.");
  const paths =
    globbed?.result && !globbed.result.isError && !globbed.result.text.startsWith("No files matched")
      ? globbed.result.text
          .split("\n")
          .filter((line) => line.startsWith(`${DREAM_INPUT_MOUNT}/`))
          .sort()
      : [];
  const store: StoreFile[] = [];
  if (paths.length <= MAX_FILES_READ) {
    for (const path of paths) {
      const read = calls.find((c) => c.name === "read" && c.input.file_path === path);
      if (!read && forced !== DREAMER_TOOL_NAMES.finish)
        return call("read", { file_path: path }, `Reading ${path}.`);
      if (read?.result && !read.result.isError)
        store.push({ path: path.slice(DREAM_INPUT_MOUNT.length), content: contentOfRead(read.result.text) });
    }
  }

  // 4. The mechanical dream over what was read, written into the draft one file per turn.
  const transcripts: SessionTranscript[] = sessionIds.map((id) => ({
    sessionId: id,
    events: events.get(id) ?? [],
  }));
  const findings = runPrePass(transcripts).findings;
  const after = dreamMechanically(store, findings);
  const before = new Map(store.map((f) => [f.path, f.content]));
  const writes = after.filter((f) => before.get(f.path) !== f.content);
  const deletes = store.filter((f) => !after.some((a) => a.path === f.path));
  if (forced !== DREAMER_TOOL_NAMES.finish) {
    for (const file of writes) {
      const target = `${DREAM_OUTPUT_MOUNT}${file.path}`;
      if (!calls.some((c) => c.name === "write" && c.input.file_path === target))
        return call("write", { file_path: target, content: file.content }, `Writing ${file.path}.`);
    }
    for (const file of deletes) {
      if (!calls.some((c) => c.name === DREAMER_TOOL_NAMES.delete && c.input.path === file.path))
        return call(DREAMER_TOOL_NAMES.delete, { path: file.path }, `Deleting the duplicate ${file.path}.`);
    }
  }

  // 5. The answer.
  const lastFinish = calls.findLast((c) => c.name === DREAMER_TOOL_NAMES.finish);
  if (lastFinish?.result?.isError && forced !== DREAMER_TOOL_NAMES.finish)
    return done(`finish_dream was refused: ${lastFinish.result.text.slice(0, 200)}`);
  const changes = [
    ...writes.map((f) => ({
      path: f.path,
      rationale: f.rationale ?? "updated",
      evidence: (f.evidence ?? []).map((e) => ({ session_id: e.sessionId, event_ids: e.eventIds })),
    })),
    ...deletes.map((f) => {
      const into = after.find((a) => a.derivedFrom?.includes(f.path));
      return {
        path: f.path,
        rationale: into ? `duplicate of ${into.path}` : "removed",
        evidence: [],
        merged_into: into?.path ?? null,
      };
    }),
  ];
  const notes = writes.filter((f) => !before.has(f.path)).length;
  return call(
    DREAMER_TOOL_NAMES.finish,
    {
      summary: `merged ${deletes.length} duplicate memories and wrote ${notes} notes from ${sessionIds.length} sessions (mechanical dream: ${findings.length} pre-pass findings)`,
      changes,
    },
    "Finishing the dream.",
  );
}

/** A file's content back from `read`'s numbered lines (`     1\tline`). */
function contentOfRead(text: string): string {
  if (/ is empty$/.test(text)) return "";
  return text
    .split("\n")
    .filter((line) => /^\s*\d+\t/.test(line))
    .map((line) => line.replace(/^\s*\d+\t/, ""))
    .join("\n");
}
