/**
 * Memory: stores, each store's memory tree and snapshots, and a memory's versions as diffs — who
 * wrote each, the session event it came from (one click away), taint and quarantine marked, redact,
 * and restore to a snapshot.
 */
import { useState } from "preact/hooks";
import type { ReverieApi } from "./api.js";
import { DiffView, unifiedDiff } from "./diff-view.js";
import { count, type Loose, when } from "./format.js";
import { html } from "./html.js";
import { eventHref, href, type Route } from "./router.js";
import { LoadError, useLoad } from "./use-api.js";

type Store = {
  id: string;
  name: string;
  description?: string;
  created_at: string;
  archived_at: string | null;
};
type MemoryItem = {
  type: "memory" | "memory_prefix";
  id?: string;
  path: string;
  content_size_bytes?: number;
  updated_at?: string;
};
type Actor = { type: "api_actor"; api_key_id: string } | { type: "session_actor"; session_id: string };
type Version = {
  id: string;
  memory_id: string;
  operation: "created" | "modified" | "deleted";
  path?: string | null;
  content?: string | null;
  created_at: string;
  created_by?: Actor;
  redacted_at?: string | null;
  reverie?: {
    tool_use_event_id: string | null;
    thread_id: string | null;
    tainted: boolean;
    taint_sources: string[];
    instruction_like: boolean;
    hidden_characters_stripped: number;
    restored_from: string | null;
    dream_id: string | null;
    citations: string[];
  };
};
type Snapshot = { id: string; name: string; description: string; created_at: string; memory_count: number };

export const isQuarantined = (path: string | null | undefined) => !!path && path.startsWith("/quarantine/");

function StoresList({ api }: { api: ReverieApi }) {
  const stores = useLoad(() => api.all<Store>("/v1/memory_stores", {}, 1000), [api]);
  return html`<section aria-labelledby="memory-title">
    <h1 id="memory-title">Memory stores</h1>
    <${LoadError} error=${stores.error} />
    ${stores.data?.length === 0 ? html`<p class="muted">No memory stores yet.</p>` : null}
    <ul class="cards">${(stores.data ?? []).map(
      (s) => html`<li class="card"><a href=${href("memory", s.id)}><strong>${s.name}</strong></a>
        <div class="muted small">${s.id} · created ${when(s.created_at)}</div>
        ${s.description ? html`<p>${s.description}</p>` : null}</li>`,
    )}</ul>
  </section>`;
}

/** Paths as a tree of folders (`details`, open) and files (links to their versions). */
function MemoryTree({
  storeId,
  items,
  selected,
}: {
  storeId: string;
  items: MemoryItem[];
  selected?: string;
}) {
  type Node = { name: string; children: Map<string, Node>; memory?: MemoryItem };
  const root: Node = { name: "/", children: new Map() };
  for (const item of items) {
    if (item.type !== "memory") continue;
    let node = root;
    const parts = item.path.split("/").filter(Boolean);
    for (const part of parts) {
      let next = node.children.get(part);
      if (!next) {
        next = { name: part, children: new Map() };
        node.children.set(part, next);
      }
      node = next;
    }
    node.memory = item;
  }
  const render = (node: Node): unknown =>
    [...node.children.values()]
      .sort((a, b) => Number(!!a.memory) - Number(!!b.memory) || a.name.localeCompare(b.name))
      .map((child) =>
        child.memory
          ? html`<li key=${child.memory.id}><a href=${href("memory", storeId, child.memory.id ?? "")}
              aria-current=${selected === child.memory.id ? "page" : undefined}>${child.name}</a>
              ${isQuarantined(child.memory.path) ? html` <span class="badge error">quarantined</span>` : null}</li>`
          : html`<li key=${child.name}><details open><summary>${child.name}/</summary><ul class="tree">${render(child)}</ul></details></li>`,
      );
  return html`<nav class="memory-tree" aria-label="Memories"><ul class="tree tree-root">${render(root)}</ul></nav>`;
}

function ActorView({ actor }: { actor: Actor | undefined }) {
  if (!actor) return html`<span>unknown</span>`;
  return actor.type === "api_actor"
    ? html`<span>API key <code>${actor.api_key_id}</code></span>`
    : html`<span>session <a href=${href("sessions", actor.session_id)}>${actor.session_id}</a></span>`;
}

function Versions({ api, storeId, memoryId }: { api: ReverieApi; storeId: string; memoryId: string }) {
  const [error, setError] = useState<string | null>(null);
  const versions = useLoad(
    () =>
      api
        .all<Version>(`/v1/memory_stores/${storeId}/memory_versions`, { memory_id: memoryId, view: "full" })
        .then((list) =>
          list.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id)),
        ),
    [api, storeId, memoryId],
  );
  const redact = async (v: Version) => {
    if (!confirm(`Redact version ${v.id}? Its content is scrubbed for good; the record stays.`)) return;
    try {
      await api.post(`/v1/memory_stores/${storeId}/memory_versions/${v.id}/redact`);
      setError(null);
      versions.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const list = versions.data ?? [];
  return html`<section class="versions" aria-labelledby="versions-title">
    <h2 class="h3" id="versions-title">Versions of ${list.at(-1)?.path ?? memoryId}</h2>
    <${LoadError} error=${versions.error ?? error} />
    <ol class="plain">${[...list].reverse().map((v) => {
      const i = list.indexOf(v);
      const before = i > 0 ? (list[i - 1]?.content ?? null) : null;
      const r = v.reverie;
      const sessionId = v.created_by?.type === "session_actor" ? v.created_by.session_id : undefined;
      return html`<li class="card version" key=${v.id}>
        <header>
          <strong>${v.operation}</strong> <code>${v.path ?? "(redacted)"}</code>
          ${r?.tainted ? html` <span class="badge error" title=${`taint sources: ${r.taint_sources.join(", ")}`}>tainted: ${r.taint_sources.join(", ") || "untrusted input"}</span>` : null}
          ${r?.instruction_like ? html` <span class="badge warn">instruction-like</span>` : null}
          ${isQuarantined(v.path) ? html` <span class="badge error">quarantined</span>` : null}
          ${v.redacted_at ? html` <span class="badge">redacted ${when(v.redacted_at)}</span>` : null}
          ${r?.restored_from ? html` <span class="badge">restored from ${r.restored_from}</span>` : null}
        </header>
        <p class="muted small">${v.id} · ${when(v.created_at)} · by <${ActorView} actor=${v.created_by} />
          ${r?.thread_id ? html` · thread ${r.thread_id}` : null}
          ${r?.hidden_characters_stripped ? html` · ${count(r.hidden_characters_stripped)} hidden characters stripped` : null}
          ${r?.dream_id ? html` · dream <a href=${href("dreams", r.dream_id)}>${r.dream_id}</a>` : null}</p>
        ${
          sessionId && r?.tool_use_event_id
            ? html`<p><a href=${eventHref(sessionId, r.tool_use_event_id, r.thread_id)}>Open the event that wrote this (${r.tool_use_event_id})</a></p>`
            : null
        }
        ${v.redacted_at ? html`<p class="muted">Content redacted.</p>` : html`<${DiffView} label=${`Changes in ${v.id}`} diff=${unifiedDiff(before, v.content ?? null, v.path ?? "")} />`}
        ${v.redacted_at ? null : html`<button type="button" onClick=${() => redact(v)}>Redact ${v.id}</button>`}
      </li>`;
    })}</ol>
  </section>`;
}

function Snapshots({
  api,
  storeId,
  onRestored,
}: {
  api: ReverieApi;
  storeId: string;
  onRestored: () => void;
}) {
  const snapshots = useLoad(
    () => api.get<{ data: Snapshot[] }>(`/v1/memory_stores/${storeId}/snapshots`).then((r) => r.data),
    [api, storeId],
  );
  const [name, setName] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const take = async (event: Event) => {
    event.preventDefault();
    try {
      await api.post(`/v1/memory_stores/${storeId}/snapshots`, {
        name: name || `snapshot ${new Date().toISOString()}`,
      });
      setName("");
      setError(null);
      snapshots.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const restore = async (s: Snapshot) => {
    if (!confirm(`Restore the store to "${s.name}"? Every change is recorded as a new version.`)) return;
    try {
      const r = await api.post<Loose>(`/v1/memory_stores/${storeId}/restore`, {
        snapshot_id: s.id,
      });
      setMessage(
        `Restored to "${s.name}": ${r.created} created, ${r.modified} modified, ${r.deleted} deleted, ${r.unchanged} unchanged` +
          (r.skipped?.length ? `, ${r.skipped.length} redacted and skipped` : ""),
      );
      setError(null);
      onRestored();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section class="snapshots" aria-labelledby="snapshots-title">
    <h2 class="h3" id="snapshots-title">Snapshots</h2>
    <form class="inline" onSubmit=${take}>
      <label for="snapshot-name">Name</label>
      <input id="snapshot-name" value=${name} onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} />
      <button type="submit">Take snapshot</button>
    </form>
    <${LoadError} error=${snapshots.error ?? error} />
    ${message ? html`<p role="status" class="ok-text">${message}</p>` : null}
    <ul class="plain">${(snapshots.data ?? []).map(
      (
        s,
      ) => html`<li key=${s.id}><strong>${s.name}</strong> · ${count(s.memory_count)} memories · ${when(s.created_at)}
        <button type="button" onClick=${() => restore(s)}>Restore ${s.name}</button></li>`,
    )}</ul>
  </section>`;
}

function StoreView({ api, storeId, memoryId }: { api: ReverieApi; storeId: string; memoryId?: string }) {
  const store = useLoad(() => api.get<Store>(`/v1/memory_stores/${storeId}`), [api, storeId]);
  const items = useLoad(
    () => api.all<MemoryItem>(`/v1/memory_stores/${storeId}/memories`, {}, 2000),
    [api, storeId],
  );
  return html`<section aria-labelledby="store-title">
    <p><a href=${href("memory")}>← Memory stores</a></p>
    <h1 id="store-title">${store.data?.name ?? storeId}</h1>
    <p class="muted small">${storeId} · ${count(items.data?.filter((i) => i.type === "memory").length)} memories</p>
    <${LoadError} error=${store.error ?? items.error} />
    <div class="split">
      <div>
        <h2 class="h3">Memories</h2>
        <${MemoryTree} storeId=${storeId} items=${items.data ?? []} selected=${memoryId} />
        <${Snapshots} api=${api} storeId=${storeId} onRestored=${items.reload} />
      </div>
      <div>${memoryId ? html`<${Versions} key=${memoryId} api=${api} storeId=${storeId} memoryId=${memoryId} />` : html`<p class="muted">Choose a memory to read its versions.</p>`}</div>
    </div>
  </section>`;
}

export function MemoryPage({ api, route }: { api: ReverieApi; route: Route }) {
  const storeId = route.parts[1];
  if (!storeId) return html`<${StoresList} api=${api} />`;
  return html`<${StoreView} key=${storeId} api=${api} storeId=${storeId} memoryId=${route.parts[2]} />`;
}
