/**
 * `lazySchema(() => z.object(…))`: a zod schema built the first time it is used, not when its module
 * is evaluated.
 *
 * A Lambda function's cold start evaluates every module of its bundle, and zod builds a schema in
 * its constructor — hundreds of them across the contract and the records, most of which a given
 * function never uses (the sweeper parses no request body). `z.lazy` defers the build too, but is
 * itself a zod instance that costs as much to construct as a small schema (~50 µs each before the JIT
 * warms up). The stand-in here is a Proxy that builds the schema on its first property access and
 * forwards everything to it: `parse`, `safeParse`, `extend`, `shape`, nesting in other schemas,
 * `z.infer` and `z.toJSONSchema` see the schema itself — same results, same issues, same messages.
 *
 * @example
 * export const AgentCreateSchema = lazySchema(() => z.strictObject({ name: z.string() }));
 */
import type * as z from "zod";

export function lazySchema<T extends z.core.$ZodType>(build: () => T): T {
  let schema: T | undefined;
  let internals: object | undefined;
  const real = (): T => {
    schema ??= build();
    return schema;
  };
  const stand: T = new Proxy({} as T, {
    get: (_target, key) => {
      if (key !== "_zod") return Reflect.get(real(), key);
      internals ??= internalsFor(stand, real());
      return internals;
    },
    set: (_target, key, value) => Reflect.set(real(), key, value),
    has: (_target, key) => Reflect.has(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    getOwnPropertyDescriptor: (_target, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(real(), key);
      // A Proxy may not report a non-configurable property its (empty) target lacks.
      return descriptor && { ...descriptor, configurable: true };
    },
    defineProperty: (_target, key, descriptor) => Reflect.defineProperty(real(), key, descriptor),
    deleteProperty: (_target, key) => Reflect.deleteProperty(real(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(real()),
  });
  return stand;
}

/**
 * The schema's internals, seen from the stand-in: the schema's own (parsing runs the schema's code),
 * except that `z.toJSONSchema` converts the stand-in as it converts a `z.lazy` of the schema: the
 * schema, then a reference to it. (Its converters key what they have seen by schema instance, and
 * the schema's own converter knows only the instance zod built, not the stand-in.) Through
 * `ctx.processors`, not an import of zod's converter: `zod/v4/core` is another entry into zod
 * (see SAME_PACKAGE_ALIASES in infra/aws/lambda-bundling.ts), and `z.core` as a value keeps all of
 * zod's core in a bundle.
 */
function internalsFor(stand: z.core.$ZodType, schema: z.core.$ZodType): object {
  return Object.create(schema._zod, {
    innerType: { value: schema },
    processJSONSchema: {
      value: (
        ctx: z.core.ToJSONSchemaContext,
        json: z.core.JSONSchema.BaseSchema,
        params: z.core.ProcessParams,
      ) => ctx.processors.lazy?.(stand as never, ctx, json, params),
    },
  });
}
