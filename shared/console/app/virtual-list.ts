/**
 * A virtualised list of items of varying height: only the rows in (and near) the viewport are in the
 * DOM, each row's height is measured once it renders (ResizeObserver) and the offsets are a prefix
 * sum over measured or estimated heights — so a 10,000-event timeline costs a few dozen rows of DOM.
 * While the view is at the bottom it follows new items (a live tail).
 */
import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { html } from "./html.js";

export interface VirtualListProps<T> {
  items: readonly T[];
  keyOf: (item: T) => string;
  render: (item: T, index: number) => ComponentChildren;
  label: string;
  /** Height assumed for a row not yet measured, px. */
  estimate?: number;
  /** Scroll this row into view (changes to the value trigger the scroll). */
  scrollTo?: number | undefined;
  busy?: boolean;
}

const OVERSCAN_PX = 600;
/** Rows measured before the estimate for unmeasured rows is fixed at their mean. */
const CALIBRATION_ROWS = 12;

export function VirtualList<T>(props: VirtualListProps<T>) {
  const { items, keyOf, render, label, estimate = 72 } = props;
  const container = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const measuredSum = useRef({ sum: 0, count: 0, frozen: 0 });
  const [, setVersion] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const atBottom = useRef(true);

  // Recomputed every render: a prefix sum over 10,000 rows is well under a millisecond. Rows not yet
  // measured count as the mean of the first screenful measured (then fixed: a guess that moved with
  // every measurement would shift the rows under the reader).
  const measured = measuredSum.current;
  const guess = measured.count >= CALIBRATION_ROWS ? measured.frozen : estimate;
  const offsets = new Float64Array(items.length + 1);
  for (let i = 0; i < items.length; i++)
    offsets[i + 1] = (offsets[i] ?? 0) + (heights.current.get(keyOf(items[i] as T)) ?? guess);
  const total = offsets[items.length] ?? 0;

  // First row whose bottom is below the top of the window (binary search over the prefix sums).
  const top = Math.max(0, scrollTop - OVERSCAN_PX);
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((offsets[mid + 1] ?? 0) <= top) lo = mid + 1;
    else hi = mid;
  }
  const start = lo;
  let end = start;
  const bottom = scrollTop + viewport + OVERSCAN_PX;
  while (end < items.length && (offsets[end] ?? 0) < bottom) end++;

  const observer = useMemo(
    () =>
      new ResizeObserver((entries) => {
        let changed = false;
        for (const entry of entries) {
          const key = (entry.target as HTMLElement).dataset.key;
          if (!key) continue;
          const h = Math.ceil((entry.target as HTMLElement).getBoundingClientRect().height);
          const before = heights.current.get(key);
          if (h > 0 && before !== h) {
            heights.current.set(key, h);
            const m = measuredSum.current;
            if (before === undefined && m.count < CALIBRATION_ROWS) {
              m.sum += h;
              m.count++;
              if (m.count === CALIBRATION_ROWS) m.frozen = m.sum / m.count;
            }
            changed = true;
          }
        }
        if (changed) setVersion((v) => v + 1);
      }),
    [],
  );
  useEffect(() => () => observer.disconnect(), [observer]);
  const observed = useRef(new Set<HTMLElement>());
  useLayoutEffect(() => {
    for (const el of observed.current)
      if (!el.isConnected) {
        observer.unobserve(el);
        observed.current.delete(el);
      }
  });

  useEffect(() => {
    const el = container.current;
    if (!el) return;
    const resize = new ResizeObserver(() => setViewport(el.clientHeight));
    resize.observe(el);
    setViewport(el.clientHeight);
    return () => resize.disconnect();
  }, []);

  // Older items prepended above a reader who scrolled up: keep what they read in place.
  const firstKey = items.length ? keyOf(items[0] as T) : undefined;
  const previousFirst = useRef<{ key: string | undefined; length: number }>({ key: firstKey, length: 0 });
  useLayoutEffect(() => {
    const el = container.current;
    const before = previousFirst.current;
    previousFirst.current = { key: firstKey, length: items.length };
    if (!el || atBottom.current || before.key === undefined || before.key === firstKey) return;
    const shifted = items.findIndex((item) => keyOf(item) === before.key);
    if (shifted > 0) {
      el.scrollTop += offsets[shifted] ?? 0;
      setScrollTop(el.scrollTop);
    }
  });

  // Live tail: stay at the bottom as items arrive or rows grow, unless the reader scrolled away.
  useLayoutEffect(() => {
    const el = container.current;
    if (el && atBottom.current && props.scrollTo === undefined) el.scrollTop = el.scrollHeight;
  });

  useLayoutEffect(() => {
    const el = container.current;
    if (!el || props.scrollTo === undefined) return;
    atBottom.current = false;
    el.scrollTop = offsets[props.scrollTo] ?? 0;
    setScrollTop(el.scrollTop);
  }, [props.scrollTo]);

  const onScroll = () => {
    const el = container.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    // Preact batches state updates, so a burst of scroll events renders once.
    setScrollTop(el.scrollTop);
  };

  const rows = [];
  for (let i = start; i < end; i++) {
    const item = items[i] as T;
    const key = keyOf(item);
    rows.push(html`<div
      key=${key}
      data-key=${key}
      data-index=${i}
      class="vrow"
      ref=${(el: HTMLElement | null) => {
        if (el && !observed.current.has(el)) {
          observed.current.add(el);
          observer.observe(el);
        }
      }}
    >${render(item, i)}</div>`);
  }
  return html`<div
    class="vlist"
    ref=${container}
    onScroll=${onScroll}
    tabindex="0"
    role="region"
    aria-label=${label}
    aria-busy=${props.busy ? "true" : "false"}
  >
    <div class="vlist-space" style=${{ height: `${total}px` }}>
      <div class="vlist-window" style=${{ transform: `translateY(${offsets[start] ?? 0}px)` }}>${rows}</div>
    </div>
  </div>`;
}
