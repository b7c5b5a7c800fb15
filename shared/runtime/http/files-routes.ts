/** Routes of /v1/files (SDK: client.beta.files): multipart upload, list, metadata, content, delete. */
import { ApiError, InvalidRequestError } from "../../contract/errors.js";
import { FileListQuerySchema, FileUploadFieldsSchema } from "../../contract/files.js";
import { parseBody } from "../../contract/validation.js";
import type { FilesService } from "../../core/files/files-service.js";
import type { HttpRequest } from "./http-types.js";
import { json, multipartForm, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
import type { Router } from "./router.js";

/** Room for the multipart envelope (boundaries, part headers, other fields) around the file. */
const ENVELOPE_BYTES = 64 * 1024;

async function parseUpload(request: HttpRequest, maxBytes: number) {
  const contentType = request.headers["content-type"] ?? "";
  if (!contentType.startsWith("multipart/form-data"))
    throw new InvalidRequestError("content-type: upload a file as multipart/form-data with a `file` part");
  const raw = request.rawBody ?? new TextEncoder().encode(request.body ?? "");
  if (raw.byteLength > maxBytes + ENVELOPE_BYTES)
    throw new ApiError(
      "request_too_large",
      `request is ${raw.byteLength} bytes; uploads are limited to ${maxBytes} bytes (REVERIE_FILE_MAX_BYTES)`,
    );
  const form = await multipartForm(contentType, raw);
  const file = form.get("file");
  if (!file || typeof file === "string")
    throw new InvalidRequestError("file: a `file` part with a filename is required");
  const fields = parseBody(FileUploadFieldsSchema, {
    expires_in_seconds: form.get("expires_in_seconds") ?? undefined,
  });
  return {
    filename: file.name,
    mimeType: file.type,
    bytes: new Uint8Array(await file.arrayBuffer()),
    expiresInSeconds: fields.expires_in_seconds,
  };
}

export function addFileRoutes(router: Router, files: FilesService, limits: { maxBytes: number }): Router {
  return router
    .add("POST", "/v1/files", async (r) =>
      json(await files.upload(ws(r), await parseUpload(r, limits.maxBytes))),
    )
    .add("GET", "/v1/files", async (r) =>
      json(await files.list(ws(r), parseListQuery(FileListQuerySchema, r, ["ids"]) as never)),
    )
    .add("GET", "/v1/files/{file_id}", async (r, p) => json(await files.retrieve(ws(r), p.file_id as string)))
    .add("DELETE", "/v1/files/{file_id}", async (r, p) =>
      json(await files.delete(ws(r), p.file_id as string)),
    )
    .add("GET", "/v1/files/{file_id}/content", async (r, p) => {
      const { file, bytes } = await files.download(ws(r), p.file_id as string);
      return {
        kind: "binary",
        status: 200,
        body: bytes,
        headers: {
          "content-type": file.mime_type,
          "content-length": String(bytes.byteLength),
          "content-disposition": `attachment; filename="${file.filename.replace(/["\\\r\n]/g, "_")}"`,
        },
      };
    });
}
