import type {
  MemoryCreateParams,
  MemoryListParams,
  MemoryUpdateParams,
} from "@anthropic-ai/sdk/resources/beta/memory-stores/memories";
import type {
  MemoryStoreCreateParams,
  MemoryStoreListParams,
  MemoryStoreUpdateParams,
} from "@anthropic-ai/sdk/resources/beta/memory-stores/memory-stores";
import type { MemoryVersionListParams } from "@anthropic-ai/sdk/resources/beta/memory-stores/memory-versions";
import { describe, expectTypeOf, test } from "vitest";
import type { z } from "zod";
import type {
  MemoryCreateSchema,
  MemoryListQuerySchema,
  MemoryStoreCreateSchema,
  MemoryStoreListQuerySchema,
  MemoryStoreUpdateSchema,
  MemoryUpdateSchema,
  MemoryVersionListQuerySchema,
} from "../../shared/contract/memory-stores.js";

type Body<T> = Omit<T, "betas" | "workspace_id">;
/** Path params travel in the URL and `view` in the query, not in the body. */
type MemoryBody<T> = Omit<Body<T>, "memory_store_id" | "view">;

describe("memory store request schemas match the SDK params", () => {
  test("store create/update bodies", () => {
    expectTypeOf<z.infer<typeof MemoryStoreCreateSchema>>().toExtend<MemoryStoreCreateParams>();
    expectTypeOf<keyof z.infer<typeof MemoryStoreCreateSchema>>().toEqualTypeOf<
      keyof Body<MemoryStoreCreateParams>
    >();
    expectTypeOf<z.infer<typeof MemoryStoreUpdateSchema>>().toExtend<MemoryStoreUpdateParams>();
    expectTypeOf<keyof z.infer<typeof MemoryStoreUpdateSchema>>().toEqualTypeOf<
      keyof Body<MemoryStoreUpdateParams>
    >();
  });

  test("memory create/update bodies", () => {
    expectTypeOf<z.infer<typeof MemoryCreateSchema>>().toExtend<MemoryBody<MemoryCreateParams>>();
    expectTypeOf<keyof z.infer<typeof MemoryCreateSchema>>().toEqualTypeOf<
      keyof MemoryBody<MemoryCreateParams>
    >();
    expectTypeOf<z.infer<typeof MemoryUpdateSchema>>().toExtend<MemoryBody<MemoryUpdateParams>>();
    expectTypeOf<keyof z.infer<typeof MemoryUpdateSchema>>().toEqualTypeOf<
      keyof MemoryBody<MemoryUpdateParams>
    >();
  });

  test("list queries cover exactly the SDK's query params", () => {
    expectTypeOf<keyof z.infer<typeof MemoryStoreListQuerySchema>>().toEqualTypeOf<
      keyof Body<MemoryStoreListParams>
    >();
    expectTypeOf<keyof z.infer<typeof MemoryListQuerySchema>>().toEqualTypeOf<keyof Body<MemoryListParams>>();
    expectTypeOf<keyof z.infer<typeof MemoryVersionListQuerySchema>>().toEqualTypeOf<
      keyof Body<MemoryVersionListParams>
    >();
  });
});
