/** A session's files: what is mounted into it (files and memory stores) and files it produced. */
import type { ReverieApi } from "./api.js";
import { count, when } from "./format.js";
import { html } from "./html.js";
import { href } from "./router.js";
import { LoadError, useLoad } from "./use-api.js";

type Resource = {
  id: string;
  type: string;
  file_id?: string;
  memory_store_id?: string;
  mount_path?: string;
  access?: string;
};
type FileMeta = { id: string; filename: string; size_bytes: number; created_at: string; mime_type?: string };

export function SessionFilesView({ api, sessionId }: { api: ReverieApi; sessionId: string }) {
  const resources = useLoad(() => api.all<Resource>(`/v1/sessions/${sessionId}/resources`), [api, sessionId]);
  const scoped = useLoad(() => api.all<FileMeta>("/v1/files", { scope_id: sessionId }), [api, sessionId]);
  const download = async (file: { id: string; filename?: string }) => {
    const blob = await api.download(`/v1/files/${file.id}/content`);
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = file.filename ?? file.id;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return html`<section aria-label="Session files">
    <h2 class="h3">Mounted into the session</h2>
    <${LoadError} error=${resources.error} />
    ${
      resources.data?.length
        ? html`<ul class="plain">${resources.data.map(
            (r) => html`<li>
              <code>${r.mount_path ?? "—"}</code> · ${r.type}${r.access ? ` (${r.access})` : ""} ·
              ${
                r.type === "memory_store"
                  ? html`<a href=${href("memory", r.memory_store_id ?? "")}>${r.memory_store_id}</a>`
                  : html`<button type="button" class="link" onClick=${() => download({ id: r.file_id ?? "" })}>download ${r.file_id}</button>`
              }
            </li>`,
          )}</ul>`
        : html`<p class="muted">Nothing is mounted.</p>`
    }
    <h2 class="h3">Files of this session</h2>
    <${LoadError} error=${scoped.error} />
    ${
      scoped.data?.length
        ? html`<ul class="plain">${scoped.data.map(
            (f) => html`<li>${f.filename} · ${count(f.size_bytes)} bytes · ${when(f.created_at)}
              <button type="button" class="link" onClick=${() => download(f)}>download</button></li>`,
          )}</ul>`
        : html`<p class="muted">No files are scoped to this session.</p>`
    }
  </section>`;
}
