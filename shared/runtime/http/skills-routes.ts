/**
 * Routes of /v1/skills (SDK: client.beta.skills and client.beta.skills.versions). Uploads are
 * multipart: the SDK sends each file as a `files[]` part whose filename is its path
 * (`pdf-tools/SKILL.md`), or one zip; `display_name` rides along on create. A self-hosted worker's
 * sessions token may retrieve and download the versions its session's agent names (what the SDK's
 * `setupSkills` calls); nothing else.
 */
import { ApiError, InvalidRequestError } from "../../contract/errors.js";
import {
  SkillCreateFieldsSchema,
  SkillListQuerySchema,
  SkillVersionListQuerySchema,
} from "../../contract/skills.js";
import { parseBody } from "../../contract/validation.js";
import type { UploadedSkillFile } from "../../core/skills/skill-bundle.js";
import type { SkillsService } from "../../core/skills/skills-service.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";
import { json, multipartForm, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
import { type Router, SESSION_SCOPE } from "./router.js";

/** Room for the multipart envelope around the files: part headers of up to 1,000 files. */
export const SKILL_UPLOAD_ENVELOPE_BYTES = 256 * 1024;

/** Whether a path is a skill upload (its body is multipart, limited like a Files API upload). */
export const isSkillUploadPath = (path: string): boolean =>
  /^\/v1\/skills(?:\/[^/]+\/versions)?\/?$/.test(path);

async function parseSkillUpload(request: HttpRequest, maxBytes: number) {
  const contentType = request.headers["content-type"] ?? "";
  if (!contentType.startsWith("multipart/form-data"))
    throw new InvalidRequestError(
      "content-type: upload a skill as multipart/form-data with its files as `files[]` parts (or one zip)",
    );
  const raw = request.rawBody ?? new TextEncoder().encode(request.body ?? "");
  if (raw.byteLength > maxBytes + SKILL_UPLOAD_ENVELOPE_BYTES) throw tooLarge(raw.byteLength, maxBytes);
  const form = await multipartForm(contentType, raw);
  const files: UploadedSkillFile[] = [];
  let total = 0;
  for (const part of [...form.getAll("files[]"), ...form.getAll("files")]) {
    if (typeof part === "string")
      throw new InvalidRequestError(
        "files: each `files[]` part must be a file (with a filename), not a text field",
      );
    total += part.size;
    if (total > maxBytes) throw tooLarge(total, maxBytes);
    files.push({ path: part.name, bytes: new Uint8Array(await part.arrayBuffer()) });
  }
  const displayName = form.get("display_name");
  const fields = parseBody(SkillCreateFieldsSchema, {
    display_name: typeof displayName === "string" ? displayName : undefined,
  });
  return { files, displayName: fields.display_name };
}

function tooLarge(size: number, max: number): ApiError {
  return new ApiError(
    "request_too_large",
    `the upload is ${size} bytes; skill uploads are limited to ${max} bytes (REVERIE_FILE_MAX_BYTES); upload a zip to send more`,
  );
}

function zipResponse(bytes: Uint8Array, filename: string): HttpResponse {
  return {
    kind: "binary",
    status: 200,
    body: bytes,
    headers: {
      "content-type": "application/zip",
      "content-length": String(bytes.byteLength),
      "content-disposition": `attachment; filename="${filename.replace(/["\\\r\n]/g, "_")}"`,
    },
  };
}

export function addSkillRoutes(router: Router, skills: SkillsService, limits: { maxBytes: number }): Router {
  return router
    .add("POST", "/v1/skills", async (r) =>
      json(await skills.create(ws(r), await parseSkillUpload(r, limits.maxBytes))),
    )
    .add("GET", "/v1/skills", async (r) =>
      json(await skills.list(ws(r), parseListQuery(SkillListQuerySchema, r) as never)),
    )
    .add("GET", "/v1/skills/{skill_id}", async (r, p) =>
      json(await skills.retrieve(ws(r), p.skill_id as string)),
    )
    .add("DELETE", "/v1/skills/{skill_id}", async (r, p) =>
      json(await skills.delete(ws(r), p.skill_id as string)),
    )
    .add("POST", "/v1/skills/{skill_id}/versions", async (r, p) => {
      const upload = await parseSkillUpload(r, limits.maxBytes);
      if (upload.displayName !== undefined)
        throw new InvalidRequestError(
          "display_name: set on skills.create only; a version takes its files alone",
        );
      return json(await skills.createVersion(ws(r), p.skill_id as string, upload));
    })
    .add("GET", "/v1/skills/{skill_id}/versions", async (r, p) =>
      json(
        await skills.listVersions(
          ws(r),
          p.skill_id as string,
          parseListQuery(SkillVersionListQuerySchema, r) as never,
        ),
      ),
    )
    .add(
      "GET",
      "/v1/skills/{skill_id}/versions/{version}",
      async (r, p) => json(await skills.retrieveVersion(ws(r), p.skill_id as string, p.version as string)),
      SESSION_SCOPE,
    )
    .add("DELETE", "/v1/skills/{skill_id}/versions/{version}", async (r, p) =>
      json(await skills.deleteVersion(ws(r), p.skill_id as string, p.version as string)),
    )
    .add(
      "GET",
      "/v1/skills/{skill_id}/versions/{version}/content",
      async (r, p) => {
        const { bytes, filename } = await skills.content(ws(r), p.skill_id as string, p.version as string);
        return zipResponse(bytes, filename);
      },
      SESSION_SCOPE,
    );
}
