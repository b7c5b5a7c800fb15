/**
 * A 409 says whether sending it again may help (`x-should-retry`): the official SDK retries a 409
 * twice with backoff unless the answer says not to.
 */
import { describe, expect, it } from "vitest";
import { ConflictError, InvalidRequestError } from "../../shared/contract/errors.js";
import { MemoryPathConflictError } from "../../shared/contract/memory-stores.js";
import { retryAdvice } from "../../shared/runtime/http/api.js";

describe("retryAdvice", () => {
  it("tells the client not to retry a final conflict", () => {
    expect(retryAdvice(new ConflictError("session is running: interrupt it before deleting"))).toEqual({
      "x-should-retry": "false",
    });
    expect(retryAdvice(new MemoryPathConflictError("/a", "mem_1"))).toEqual({ "x-should-retry": "false" });
  });

  it("lets the client retry a conflict with a concurrent change", () => {
    expect(retryAdvice(new ConflictError("skill changed concurrently: retry", { retryable: true }))).toEqual({
      "x-should-retry": "true",
    });
  });

  it("leaves other statuses to the client's own rules", () => {
    expect(retryAdvice(new InvalidRequestError("bad"))).toEqual({});
  });
});
