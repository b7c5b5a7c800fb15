import type { FileListParams } from "@anthropic-ai/sdk/resources/beta/files";
import type {
  BetaManagedAgentsSessionThread,
  ThreadListParams,
} from "@anthropic-ai/sdk/resources/beta/sessions/threads/threads";
import { describe, expectTypeOf, test } from "vitest";
import type { z } from "zod";
import type { FileListQuerySchema } from "../../shared/contract/files.js";
import type { SessionThread } from "../../shared/core/threads/threads-service.js";
import type { ThreadListQuerySchema } from "../../shared/runtime/http/threads-routes.js";

type Query<T> = Omit<T, "betas" | "workspace_id">;

describe("threads and files request schemas match the SDK params", () => {
  test("thread list query is assignable to ThreadListParams", () => {
    expectTypeOf<z.infer<typeof ThreadListQuerySchema>>().toExtend<Query<ThreadListParams>>();
  });

  test("file list query is assignable to FileListParams", () => {
    expectTypeOf<z.infer<typeof FileListQuerySchema>>().toExtend<Query<FileListParams>>();
  });

  test("threads are served as the SDK's session thread type", () => {
    expectTypeOf<SessionThread>().toEqualTypeOf<BetaManagedAgentsSessionThread>();
  });
});
