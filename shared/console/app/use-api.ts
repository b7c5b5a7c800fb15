/** Loading state for one API read, re-run when its inputs change or on `reload()`. */
import { useCallback, useEffect, useState } from "preact/hooks";
import { html } from "./html.js";

export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[], pollMs?: number): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let stale = false;
    setLoading(true);
    load().then(
      (value) => {
        if (stale) return;
        setData(value);
        setError(null);
        setLoading(false);
      },
      (err: Error) => {
        if (stale) return;
        setError(err.message);
        setLoading(false);
      },
    );
    return () => {
      stale = true;
    };
  }, [...deps, tick]);
  useEffect(() => {
    if (!pollMs) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") setTick((t) => t + 1);
    }, pollMs);
    return () => clearInterval(timer);
  }, [pollMs]);
  return { data, error, loading, reload };
}

export function LoadError({ error }: { error: string | null }) {
  return error ? html`<p class="error-text" role="alert">${error}</p>` : null;
}
