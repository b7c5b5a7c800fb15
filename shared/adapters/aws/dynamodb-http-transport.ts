/**
 * A DynamoDbTransport straight over HTTP(S), without the AWS SDK's DynamoDB client: DynamoDB's JSON
 * protocol (`X-Amz-Target: DynamoDB_20120810.<Operation>`) through an AwsJsonClient (signing,
 * retries, clock-skew correction: aws-json-client.ts), values marshalled with the SDK's own
 * `@aws-sdk/util-dynamodb` (dynamodb-wire.ts). Loading the SDK's client costs ~160 ms of every cold
 * start on a 2-core machine (docs/performance.md); this module a few.
 */
import { AwsJsonClient, type AwsJsonClientOptions, type AwsJsonService } from "./aws-json-client.js";
import type { DynamoDbOperation, DynamoDbTransport } from "./dynamodb-document-store.js";
import { fromWire, toWire } from "./dynamodb-wire.js";

export const DYNAMODB_SERVICE: AwsJsonService = {
  signingName: "dynamodb",
  targetPrefix: "DynamoDB_20120810",
  contentType: "application/x-amz-json-1.0",
  endpointId: "DYNAMODB",
  hostPrefix: "dynamodb",
};

export class DynamoDbHttpTransport implements DynamoDbTransport {
  private readonly client: AwsJsonClient;

  constructor(options: Omit<AwsJsonClientOptions, "service">) {
    this.client = new AwsJsonClient({ ...options, service: DYNAMODB_SERVICE });
  }

  async send(operation: DynamoDbOperation, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    return fromWire(await this.client.call(operation, toWire(operation, input)));
  }
}
