/**
 * The Reverie console: sign in with an API key (kept in sessionStorage), then Sessions, Memory,
 * Dreams and Webhooks over the public API. Views are Preact components written with htm.
 */
import { render } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, ReverieApi, storedKey, storeKey } from "./api.js";
import { DreamsPage } from "./dreams-page.js";
import { html } from "./html.js";
import { MemoryPage } from "./memory-page.js";
import { href, useRoute } from "./router.js";
import { SessionPage } from "./session-page.js";
import { SessionsPage } from "./sessions-page.js";
import { WebhooksPage } from "./webhooks-page.js";

function SignIn({ onKey }: { onKey: (key: string) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setChecking(true);
    try {
      await new ReverieApi(key.trim()).get("/v1/agents", { limit: 1 });
      onKey(key.trim());
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? "That key was not accepted."
          : `Could not sign in: ${(err as Error).message}`,
      );
    } finally {
      setChecking(false);
    }
  };
  return html`<main id="main" class="sign-in">
    <h1>Reverie console</h1>
    <p>Sign in with an API key of your workspace. It is kept in this tab only (session storage) and sent
      to the API in the <code>x-api-key</code> header, never in a URL.</p>
    <form onSubmit=${submit}>
      <label for="api-key">API key</label>
      <input id="api-key" type="password" autocomplete="off" spellcheck="false" required
        aria-describedby=${error ? "sign-in-error" : undefined}
        value=${key} onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)} />
      <button type="submit" class="primary" disabled=${checking || !key.trim()}>Sign in</button>
      ${error ? html`<p id="sign-in-error" class="error-text" role="alert">${error}</p>` : null}
    </form>
  </main>`;
}

const SECTIONS = [
  ["sessions", "Sessions"],
  ["memory", "Memory"],
  ["dreams", "Dreams"],
  ["webhooks", "Webhooks"],
] as const;

function App() {
  const [key, setKey] = useState(storedKey);
  const api = useMemo(() => (key ? new ReverieApi(key) : null), [key]);
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  const section = route.parts[0] ?? "sessions";
  const title = SECTIONS.find(([id]) => id === section)?.[1] ?? "Sessions";
  useEffect(() => {
    document.title = `${title} · Reverie console`;
  }, [title]);
  // Moving to another view puts focus on its content, as a page load would.
  const path = route.parts.join("/");
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    if (!route.query.get("event")) main.current?.focus();
  }, [path]);
  if (!api)
    return html`<${SignIn} onKey=${(k: string) => {
      storeKey(k);
      setKey(k);
    }} />`;
  const page =
    section === "sessions" && route.parts[1]
      ? html`<${SessionPage} api=${api} route=${route} />`
      : section === "memory"
        ? html`<${MemoryPage} api=${api} route=${route} />`
        : section === "dreams"
          ? html`<${DreamsPage} api=${api} route=${route} />`
          : section === "webhooks"
            ? html`<${WebhooksPage} api=${api} route=${route} />`
            : html`<${SessionsPage} api=${api} />`;
  return html`<a class="skip" href="#main" onClick=${(e: Event) => {
    e.preventDefault();
    main.current?.focus();
  }}>Skip to content</a>
    <header class="top">
      <a class="brand" href=${href("sessions")}>Reverie</a>
      <nav aria-label="Console">
        <ul>${SECTIONS.map(
          ([id, label]) =>
            html`<li><a href=${href(id)} aria-current=${section === id ? "page" : undefined}>${label}</a></li>`,
        )}</ul>
      </nav>
      <button type="button" class="link" onClick=${() => {
        storeKey(null);
        setKey(null);
      }}>Sign out</button>
    </header>
    <main id="main" ref=${main} tabindex="-1">${page}</main>`;
}

render(html`<${App} />`, document.getElementById("app") as HTMLElement);
