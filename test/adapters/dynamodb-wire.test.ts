/**
 * The document store's own DynamoDB marshalling gives the wire values `@aws-sdk/util-dynamodb`
 * gives (with `removeUndefinedValues`), and reads them back the same, for the values the store writes.
 */
import { marshall as sdkMarshall, unmarshall as sdkUnmarshall } from "@aws-sdk/util-dynamodb";
import { describe, expect, it } from "vitest";
import { fromWire, marshall, toWire, unmarshall } from "../../shared/adapters/aws/dynamodb-wire.js";

const records: Array<Record<string, unknown>> = [
  { pk: "sesn_1", sk: "evt#0001", rev: 3, doc: '{"a":1}' },
  { pk: "p", sk: 42, flag: true, off: false, nothing: null, gone: undefined },
  { nested: { list: [1, "two", { three: [null, true] }, undefined], empty: {}, none: [] }, n: -0.5 },
  { big: 2 ** 53 - 1, small: Number.MIN_SAFE_INTEGER, float: 1.25e-7, text: "", unicode: "é✓😀" },
];

describe("marshall / unmarshall", () => {
  it.each(records.map((record, i) => [i, record]))(
    "writes what util-dynamodb writes and reads it back (record %i)",
    (_, record) => {
      // Act
      const ours = marshall(record);
      // Assess
      expect(ours).toEqual(sdkMarshall(record, { removeUndefinedValues: true }));
      expect(unmarshall(ours)).toEqual(sdkUnmarshall(sdkMarshall(record, { removeUndefinedValues: true })));
    },
  );

  it("refuses what the SDK refuses: non-finite numbers and integers beyond 2^53", () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      expect(() => sdkMarshall({ value })).toThrow();
      expect(() => marshall({ value })).toThrow();
    }
  });

  it("reads an integer beyond 2^53 as a BigInt, as the SDK does", () => {
    expect(unmarshall({ n: { N: "123456789012345678901" } })).toEqual(
      sdkUnmarshall({ n: { N: "123456789012345678901" } }),
    );
  });

  it("refuses sets and binary, which the document store never writes", () => {
    expect(() => marshall({ set: new Set(["a"]) })).toThrow(/cannot marshall/);
    expect(() => marshall({ bytes: new Uint8Array([1]) })).toThrow(/cannot marshall/);
    expect(() => unmarshall({ ss: { SS: ["a"] } })).toThrow(/cannot unmarshall/);
  });
});

describe("toWire / fromWire", () => {
  it("marshals an operation's values (batch items included) and unmarshals its output's", () => {
    // Act
    const request = toWire("BatchWriteItem", {
      RequestItems: { t: [{ PutRequest: { Item: { pk: "a", sk: 1 } } }] },
    });
    const output = fromWire({
      Items: [{ pk: { S: "a" }, sk: { N: "1" } }],
      LastEvaluatedKey: { pk: { S: "a" }, sk: { N: "1" } },
      Count: 1,
    });
    // Assess
    expect(request).toEqual({
      RequestItems: { t: [{ PutRequest: { Item: { pk: { S: "a" }, sk: { N: "1" } } } }] },
    });
    expect(output).toMatchObject({
      Items: [{ pk: "a", sk: 1 }],
      LastEvaluatedKey: { pk: "a", sk: 1 },
      Count: 1,
    });
  });
});
