/**
 * The physical table names (`REVERIE_TABLE_RESOURCES`, `REVERIE_TABLE_EVENTS`), read without the
 * configuration schema: config.ts parses them with everything else, and this is what a function
 * that needs nothing else (the authorizer) reads, with the same defaults.
 */
import type { TableName } from "../core/ports.js";

export const DEFAULT_TABLE_NAMES: Readonly<Record<TableName, string>> = {
  resources: "resources",
  events: "events",
};

/** The table names in `env`; a blank variable means its default, as in loadConfig. */
export function tableNamesOf(env: Record<string, string | undefined>): Record<TableName, string> {
  return {
    resources: env.REVERIE_TABLE_RESOURCES || DEFAULT_TABLE_NAMES.resources,
    events: env.REVERIE_TABLE_EVENTS || DEFAULT_TABLE_NAMES.events,
  };
}
