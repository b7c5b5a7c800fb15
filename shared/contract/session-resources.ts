/**
 * Session resources: the `resources[]` params of `POST /v1/sessions` and the bodies of
 * `/v1/sessions/{id}/resources`, matching the SDK's `Beta…ResourceParam(s)` / `ResourceAddParams` /
 * `ResourceUpdateParams`. Each type has its own schema so a type (files, repositories) can be
 * supported by adding its resolver, without touching the others.
 */
import * as z from "zod";
import { lazySchema } from "./lazy-schema.js";
import { MEMORY_LIMITS } from "./memory-stores.js";
import { pageCursorSchema, pageLimitSchema } from "./validation.js";

export const memoryStoreResourceParamsSchema = lazySchema(() =>
  z.strictObject({
    type: z.literal("memory_store"),
    memory_store_id: z.string().min(1).max(128),
    access: z.enum(["read_write", "read_only"]).nullish(),
    instructions: z.string().max(4096).nullish(),
  }),
);
export type MemoryStoreResourceParams = z.infer<typeof memoryStoreResourceParamsSchema>;

export const fileResourceParamsSchema = lazySchema(() =>
  z.strictObject({
    type: z.literal("file"),
    file_id: z.string().min(1).max(128),
    mount_path: z.string().min(1).max(4096).nullish(),
  }),
);
export type FileResourceParams = z.infer<typeof fileResourceParamsSchema>;

export const githubRepositoryResourceParamsSchema = lazySchema(() =>
  z.object({ type: z.literal("github_repository"), url: z.string() }).loose(),
);

/** Most file resources per session (Anthropic's documented limit). */
export const MAX_SESSION_FILES = 100;

/** One entry of `resources[]` on session create. */
export const sessionResourceParamsSchema = lazySchema(() =>
  z.discriminatedUnion("type", [
    memoryStoreResourceParamsSchema,
    fileResourceParamsSchema,
    githubRepositoryResourceParamsSchema,
  ]),
);
export type SessionResourceParams = z.infer<typeof sessionResourceParamsSchema>;

/** `resources[]` on session create: at most 8 memory stores (and no store twice), at most 100 files. */
export const sessionResourcesSchema = lazySchema(() =>
  z.array(sessionResourceParamsSchema).superRefine((resources, ctx) => {
    const stores = resources.filter((r) => r.type === "memory_store") as MemoryStoreResourceParams[];
    if (stores.length > MEMORY_LIMITS.storesPerSession)
      ctx.addIssue({
        code: "custom",
        message: `at most ${MEMORY_LIMITS.storesPerSession} memory stores per session (got ${stores.length})`,
      });
    const ids = stores.map((s) => s.memory_store_id);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup) ctx.addIssue({ code: "custom", message: `memory store ${dup} is attached twice` });
    const files = resources.filter((r) => r.type === "file").length;
    if (files > MAX_SESSION_FILES)
      ctx.addIssue({
        code: "custom",
        message: `at most ${MAX_SESSION_FILES} files per session (got ${files})`,
      });
  }),
);

/** Body of `POST /v1/sessions/{id}/resources` (ResourceAddParams). */
export const ResourceAddSchema = lazySchema(() => fileResourceParamsSchema);

/** Body of `POST /v1/sessions/{id}/resources/{resource_id}` (ResourceUpdateParams). */
export const ResourceUpdateSchema = lazySchema(() =>
  z.strictObject({ authorization_token: z.string().min(1) }),
);

/** Query of `GET /v1/sessions/{id}/resources`. */
export const ResourceListQuerySchema = lazySchema(() =>
  z.object({ limit: pageLimitSchema, page: pageCursorSchema }),
);
