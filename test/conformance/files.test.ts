/**
 * The Files API through the official SDK: multipart upload (binary-safe), metadata, list, download,
 * delete, the size limit with a 413, and copying a text file into a session workspace.
 */
import Anthropic, { toFile } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFileToWorkspace, type FilesService } from "../../shared/core/files/files-service.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { rejection } from "../fixtures/sdk-assertions.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { REVERIE_FILE_MAX_BYTES: "4096" } });
});
afterAll(async () => h.close());

describe("files", () => {
  it("uploads, describes, lists, downloads and deletes a binary file", async () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    const uploaded = await h.client.beta.files.upload({
      file: await toFile(bytes, "all-bytes.bin", { type: "application/octet-stream" }),
    });
    expect(uploaded).toMatchObject({
      type: "file",
      filename: "all-bytes.bin",
      mime_type: "application/octet-stream",
      size_bytes: 256,
      downloadable: true,
    });
    expect(uploaded.id).toMatch(/^file_/);
    expect(await h.client.beta.files.retrieveMetadata(uploaded.id)).toEqual(uploaded);

    const text = await h.client.beta.files.upload({
      file: await toFile(Buffer.from("hello\n"), "a.txt", { type: "text/plain" }),
    });
    const listed: string[] = [];
    for await (const f of h.client.beta.files.list({ limit: 1 })) listed.push(f.id);
    expect(listed.slice(0, 2)).toEqual([text.id, uploaded.id]);
    const byIds = await h.client.beta.files.list({ ids: [uploaded.id, "file_missing"] });
    expect(byIds.data.map((f) => f.id)).toEqual([uploaded.id]);

    const response = await h.client.beta.files.download(uploaded.id);
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);

    expect(await h.client.beta.files.delete(uploaded.id)).toEqual({ id: uploaded.id, type: "file_deleted" });
    await rejection(h.client.beta.files.retrieveMetadata(uploaded.id), Anthropic.NotFoundError);
    await rejection(h.client.beta.files.download(uploaded.id), Anthropic.NotFoundError);
  });

  it("refuses a file over the size limit with a clear 413", async () => {
    const error = await rejection(
      h.client.beta.files.upload({ file: await toFile(new Uint8Array(5000), "big.bin") }),
      Anthropic.APIError,
    );
    expect(error.status).toBe(413);
    expect(error.message).toMatch(/limited to 4096 bytes/);
  });

  it("refuses an upload without a file part", async () => {
    const response = await fetch(`${h.stack.url}/v1/files`, {
      method: "POST",
      headers: { "x-api-key": h.stack.apiKey, "content-type": "multipart/form-data; boundary=x" },
      body: '--x\r\nContent-Disposition: form-data; name="other"\r\n\r\nv\r\n--x--\r\n',
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toMatch(/file/);
  });

  it("copies a text file into a session workspace (for session file resources)", async () => {
    const file = await h.client.beta.files.upload({
      file: await toFile(Buffer.from("notes\n"), "notes.md", { type: "text/markdown" }),
    });
    const { files } = h.stack.services as { files: FilesService };
    const workspace = h.stack.services.deps.workspace;
    await copyFileToWorkspace(files, workspace, {
      workspaceId: "wrkspc_local",
      fileId: file.id,
      sessionWorkspaceId: "sesn_test",
      path: "uploads/notes.md",
    });
    expect(await workspace.read("sesn_test", "uploads/notes.md")).toBe("notes\n");
  });
});
