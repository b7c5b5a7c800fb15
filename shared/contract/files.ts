/** Files API contract: the SDK's types and the request shapes of /v1/files. */
import * as z from "zod";
import { pageCursorSchema, pageLimitSchema } from "./validation.js";

export type {
  BetaDeletedFile,
  BetaFileMetadata,
  FileListParams,
} from "@anthropic-ai/sdk/resources/beta/files";

import { lazySchema } from "./lazy-schema.js";

/** GET /v1/files query (`ids` is repeatable). */
export const FileListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
    scope_id: z.string().min(1).optional(),
    ids: z.array(z.string().min(1)).optional(),
  }),
);

/** Upper bound of `expires_in_seconds` on upload (Reverie: 1 year). */
export const FileUploadFieldsSchema = lazySchema(() =>
  z.object({
    expires_in_seconds: z.coerce.number().int().min(1).max(31_536_000).optional(),
  }),
);
