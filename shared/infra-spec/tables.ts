/**
 * DynamoDB tables as data, shared by the CDK stack (infra/aws) and the embedded stack (infra/local).
 * `resources` holds every control-plane item (agents and their versions, environments, sessions, API
 * keys, step records); `events` holds each session's event log, sorted by a numeric sequence.
 */
export type TableName = "resources" | "events";

export interface TableSpec {
  name: TableName;
  partitionKey: { name: "pk"; type: "S" };
  sortKey: { name: "sk"; type: "S" | "N" };
  /** Attribute holding an epoch-seconds expiry, if items expire. */
  timeToLiveAttribute?: string;
}

export const tableSpecs: Record<TableName, TableSpec> = {
  resources: {
    name: "resources",
    partitionKey: { name: "pk", type: "S" },
    sortKey: { name: "sk", type: "S" },
  },
  events: { name: "events", partitionKey: { name: "pk", type: "S" }, sortKey: { name: "sk", type: "N" } },
};

/** The CreateTable request for a spec (on-demand billing), as the local stacks create their tables. */
export function createTableRequest(spec: TableSpec) {
  return {
    TableName: spec.name,
    BillingMode: "PAY_PER_REQUEST" as const,
    AttributeDefinitions: [
      { AttributeName: spec.partitionKey.name, AttributeType: spec.partitionKey.type },
      { AttributeName: spec.sortKey.name, AttributeType: spec.sortKey.type },
    ],
    KeySchema: [
      { AttributeName: spec.partitionKey.name, KeyType: "HASH" as const },
      { AttributeName: spec.sortKey.name, KeyType: "RANGE" as const },
    ],
  };
}
