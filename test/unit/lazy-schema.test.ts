import { describe, expect, it } from "vitest";
import * as z from "zod";
import { lazySchema } from "../../shared/contract/lazy-schema.js";

const eager = () =>
  z.strictObject({
    type: z.literal("agent"),
    name: z.string().min(1).max(8),
    tags: z.array(z.enum(["a", "b"])).optional(),
  });

describe("lazySchema", () => {
  it("builds the schema on first use, once", () => {
    let builds = 0;
    const schema = lazySchema(() => {
      builds++;
      return eager();
    });
    expect(builds).toBe(0);
    schema.parse({ type: "agent", name: "x" });
    schema.safeParse({});
    expect(builds).toBe(1);
  });

  it("parses as the schema does: same data, same issues", () => {
    const schema = lazySchema(eager);
    for (const input of [
      { type: "agent", name: "x", tags: ["a"] },
      { type: "agent", name: "", tags: ["c"], extra: 1 },
      { type: "self" },
      null,
      "agent",
    ]) {
      const a = eager().safeParse(input, { reportInput: true });
      const b = schema.safeParse(input, { reportInput: true });
      expect(b.success).toBe(a.success);
      expect(b.success ? b.data : b.error.issues).toEqual(a.success ? a.data : a.error.issues);
    }
  });

  it("works inside other schemas, as a union's option and with the schema's own methods", () => {
    const agent = lazySchema(eager);
    const self = lazySchema(() => z.strictObject({ type: z.literal("self") }));
    const entry = z.discriminatedUnion("type", [agent, self]);
    expect(entry.parse({ type: "self" })).toEqual({ type: "self" });
    expect(entry.safeParse({ type: "other" }).success).toBe(false);
    expect(z.array(agent.nullish()).parse([null, { type: "agent", name: "y" }])).toHaveLength(2);
    const extended = agent.extend({ id: z.string() });
    expect(extended.parse({ type: "agent", name: "y", id: "1" })).toEqual({
      type: "agent",
      name: "y",
      id: "1",
    });
    expect(Object.keys(agent.shape)).toEqual(["type", "name", "tags"]);
    expect(agent).toBeInstanceOf(z.ZodObject);
  });

  it("converts to the schema's JSON Schema, nested and recursive ones included", () => {
    const inner = lazySchema(eager);
    const outer = () => z.object({ first: inner, rest: z.array(inner).optional() });
    expect(z.toJSONSchema(lazySchema(outer), { io: "input" })).toEqual(
      z.toJSONSchema(z.object({ first: eager(), rest: z.array(eager()).optional() }), { io: "input" }),
    );
    type Node = { name: string; children: Node[] };
    const node: z.ZodType<Node> = lazySchema(() =>
      z.object({
        name: z.string(),
        get children() {
          return z.array(node);
        },
      }),
    );
    const json = z.toJSONSchema(node) as { $defs?: unknown };
    expect(JSON.stringify(json)).toContain('"$ref"');
    expect(node.parse({ name: "a", children: [{ name: "b", children: [] }] })).toBeTruthy();
  });
});
