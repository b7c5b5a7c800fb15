/**
 * Skills contract (`/v1/skills`, `/v1/skills/{skill_id}/versions`): the SDK's types, the request
 * shapes of the list endpoints and the multipart upload fields, and the documented limits of a
 * skill bundle (Anthropic's Agent Skills docs: `name` ≤ 64 characters of lowercase letters, numbers
 * and hyphens, without the reserved words "anthropic" / "claude"; `description` non-empty, ≤ 1,024
 * characters, no XML tags; `display_name` ≤ 255 characters, one line; an upload under 30 MB).
 */
import * as z from "zod";
import { pageCursorSchema, pageLimitSchema } from "./validation.js";

export type {
  BetaDeletedSkill,
  BetaSkill,
  BetaSkillSource,
  SkillCreateParams,
  SkillListParams,
} from "@anthropic-ai/sdk/resources/beta/skills/skills";
export type {
  BetaDeletedSkillVersion,
  BetaSkillVersion,
  VersionCreateParams,
  VersionListParams,
} from "@anthropic-ai/sdk/resources/beta/skills/versions";

import { lazySchema } from "./lazy-schema.js";

export const SKILL_LIMITS = {
  /** Docs: "name: Maximum 64 characters". */
  nameMaxLength: 64,
  /** Docs: "description: Maximum 1024 characters". */
  descriptionMaxLength: 1024,
  /** SDK: display_name "Maximum 255 characters". */
  displayNameMaxLength: 255,
  /** Docs: the whole upload, uncompressed, under 30 MB. */
  maxUncompressedBytes: 30 * 1024 * 1024,
  /** Not stated by Anthropic; Reverie's bound on the files of one bundle. */
  maxFiles: 1000,
  /** Not stated by Anthropic; Reverie's bound on one path inside a bundle. */
  maxPathLength: 1024,
  /** Docs (Managed Agents): "Each session supports up to 20 skills total". */
  maxSkillsPerSession: 20,
} as const;

/** The skill name as the docs allow it: lowercase letters, numbers and hyphens. */
export const SKILL_NAME_PATTERN = /^[a-z0-9-]+$/;
/** Words a skill name may not contain (docs: "Cannot contain reserved words"). */
export const RESERVED_SKILL_NAME_WORDS = ["anthropic", "claude"] as const;
/** An XML/HTML-like tag (`<tag>`, `</tag>`, `<tag attr="x"/>`), which names and descriptions may not contain. */
export const XML_TAG_PATTERN = /<\/?[A-Za-z][^<>]*>/;

/** The alias that `versions.retrieve` / `download` and agents' `version` resolve to the newest version. */
export const LATEST_VERSION = "latest";

/** GET /v1/skills query. */
export const SkillListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
    source: z.string().min(1).optional(),
  }),
);

/** GET /v1/skills/{skill_id}/versions query. */
export const SkillVersionListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
  }),
);

/** The non-file fields of POST /v1/skills (multipart). */
export const SkillCreateFieldsSchema = lazySchema(() =>
  z.object({
    display_name: z
      .string()
      .max(SKILL_LIMITS.displayNameMaxLength)
      .refine((v) => !/[\r\n]/.test(v), { message: "must be a single line" })
      .optional(),
  }),
);
