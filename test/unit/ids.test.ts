import { describe, expect, it } from "vitest";
import { TimeSortableIds } from "../../shared/contract/ids.js";

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

describe("TimeSortableIds", () => {
  it("makes `<prefix>_01` + 22 base58 digits, sorted by creation time", () => {
    let now = 1_700_000_000_000;
    const ids = new TimeSortableIds(() => now);
    const made: string[] = [];
    for (let i = 0; i < 200; i++) {
      made.push(ids.next("sevt"));
      now += 1 + (i % 3);
    }
    for (const id of made) expect(id).toMatch(/^sevt_01[1-9A-HJ-NP-Za-km-z]{22}$/);
    expect([...made].sort()).toEqual(made);
    // the time part is the clock in base58, most significant digit first
    expect(made[0]?.slice(7, 16)).toBe(base58(1_700_000_000_000, 9));
  });

  it("draws the random part uniformly: no repeats, every digit used, no digit favoured", () => {
    const ids = new TimeSortableIds(() => 0);
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const random = ids.next("x").slice(-13);
      seen.add(random);
      for (const digit of random) counts.set(digit, (counts.get(digit) ?? 0) + 1);
    }
    expect(seen.size).toBe(20_000);
    expect([...counts.keys()].sort()).toEqual([...BASE58].sort());
    // 260,000 digits: ~4,483 each; a byte-modulo bias would put the first digits ~25% above the rest
    const expected = (20_000 * 13) / 58;
    for (const count of counts.values()) expect(Math.abs(count - expected) / expected).toBeLessThan(0.08);
  });
});

function base58(value: number, width: number): string {
  let out = "";
  for (let i = 0, rest = value; i < width; i++, rest = Math.floor(rest / 58)) out = BASE58[rest % 58] + out;
  return out;
}
