/**
 * A small JSON Schema validator for rubric `check: json … matches {schema}` lines. It covers the
 * keywords a rubric needs (type, required, properties, additionalProperties, items, enum, const,
 * minimum/maximum, minLength/maxLength, minItems/maxItems, pattern) and refuses any other keyword
 * up front, so a check never silently ignores part of its schema. (zod's JSON Schema converter
 * would add ~30 KB to every Lambda bundle.)
 */

const supported = new Set([
  "$schema",
  "title",
  "description",
  "type",
  "required",
  "properties",
  "additionalProperties",
  "items",
  "enum",
  "const",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "pattern",
]);
const types = new Set(["string", "number", "integer", "boolean", "object", "array", "null"]);

type Schema = Record<string, unknown>;

/** The keywords or types a schema uses that this validator does not support (empty when usable). */
export function unsupportedSchemaParts(schema: unknown, path = "(root)"): string[] {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema))
    return [`${path}: not a schema object`];
  const s = schema as Schema;
  const problems: string[] = [];
  for (const key of Object.keys(s)) if (!supported.has(key)) problems.push(`${path}: keyword "${key}"`);
  for (const t of [s.type].flat()) {
    if (t !== undefined && !types.has(String(t))) problems.push(`${path}: type "${String(t)}"`);
  }
  for (const [name, sub] of Object.entries((s.properties as Record<string, unknown>) ?? {}))
    problems.push(...unsupportedSchemaParts(sub, `${path}.${name}`));
  if (s.items !== undefined) problems.push(...unsupportedSchemaParts(s.items, `${path}[]`));
  if (typeof s.additionalProperties === "object")
    problems.push(...unsupportedSchemaParts(s.additionalProperties, `${path}.*`));
  return problems;
}

const typeOf = (value: unknown): string =>
  value === null
    ? "null"
    : Array.isArray(value)
      ? "array"
      : typeof value === "number"
        ? "number"
        : typeof value;

/** Validates `value` against `schema`; returns problems as `path: message` (empty when it matches). */
export function validateJsonSchema(schema: Schema, value: unknown, path = "(root)"): string[] {
  const problems: string[] = [];
  const wanted = [schema.type].flat().filter((t) => t !== undefined) as string[];
  if (wanted.length > 0) {
    const actual = typeOf(value);
    const ok = wanted.some(
      (t) =>
        t === actual ||
        (t === "integer" && Number.isInteger(value)) ||
        (t === "number" && actual === "number"),
    );
    if (!ok) return [`${path}: expected ${wanted.join(" or ")}, got ${actual}`];
  }
  if (
    schema.enum !== undefined &&
    !(schema.enum as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(value))
  )
    problems.push(`${path}: not one of ${JSON.stringify(schema.enum)}`);
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value))
    problems.push(`${path}: must equal ${JSON.stringify(schema.const)}`);
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum)
      problems.push(`${path}: below ${schema.minimum}`);
    if (typeof schema.maximum === "number" && value > schema.maximum)
      problems.push(`${path}: above ${schema.maximum}`);
  }
  if (typeof value === "string") {
    if (typeof schema.minLength === "number" && value.length < schema.minLength)
      problems.push(`${path}: shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === "number" && value.length > schema.maxLength)
      problems.push(`${path}: longer than ${schema.maxLength}`);
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value))
      problems.push(`${path}: does not match /${schema.pattern}/`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === "number" && value.length < schema.minItems)
      problems.push(`${path}: fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems)
      problems.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.items && typeof schema.items === "object")
      value.forEach((item, i) => {
        problems.push(...validateJsonSchema(schema.items as Schema, item, `${path}[${i}]`));
      });
  }
  if (typeOf(value) === "object") {
    const object = value as Record<string, unknown>;
    for (const name of (schema.required as string[] | undefined) ?? [])
      if (!(name in object)) problems.push(`${path}: missing required "${name}"`);
    const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
    for (const [name, sub] of Object.entries(properties))
      if (name in object) problems.push(...validateJsonSchema(sub, object[name], `${path}.${name}`));
    for (const name of Object.keys(object).filter((n) => !(n in properties))) {
      if (schema.additionalProperties === false) problems.push(`${path}: unexpected property "${name}"`);
      else if (typeof schema.additionalProperties === "object")
        problems.push(
          ...validateJsonSchema(schema.additionalProperties as Schema, object[name], `${path}.${name}`),
        );
    }
  }
  return problems;
}
