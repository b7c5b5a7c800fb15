/** Unified diffs, read line by line: additions and deletions marked by more than colour. */
import { createTwoFilesPatch } from "diff";
import { html } from "./html.js";

/** A unified diff of two texts (`null` = absent), without the file header lines. */
export function unifiedDiff(before: string | null, after: string | null, path: string): string {
  return createTwoFilesPatch(path, path, before ?? "", after ?? "", undefined, undefined, { context: 3 })
    .split("\n")
    .filter((line) => !line.startsWith("===") && !line.startsWith("Index:"))
    .join("\n");
}

export function DiffView({ diff, label }: { diff: string; label: string }) {
  const lines = diff
    .split("\n")
    .filter((line, i, all) => !(i === all.length - 1 && line === ""))
    .filter((line) => !line.startsWith("Index: ") && !/^={10,}$/.test(line));
  return html`<pre class="diff" aria-label=${label} tabindex="0">${lines.map((line) => {
    const kind =
      line.startsWith("+++") || line.startsWith("---")
        ? "meta"
        : line.startsWith("+")
          ? "add"
          : line.startsWith("-")
            ? "del"
            : line.startsWith("@@")
              ? "hunk"
              : "ctx";
    return html`<span class=${`diff-${kind}`}>${kind === "add" ? html`<span class="sr-only">added: </span>` : null}${kind === "del" ? html`<span class="sr-only">removed: </span>` : null}${line}\n</span>`;
  })}</pre>`;
}
