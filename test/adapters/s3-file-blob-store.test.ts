import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { S3FileBlobStore } from "../../shared/adapters/aws/s3-file-blob-store.js";

const s3 = mockClient(S3Client);
const store = () => new S3FileBlobStore({ client: new S3Client({}), bucket: "workspaces" });

afterEach(() => {
  s3.reset();
});

describe("S3FileBlobStore", () => {
  it("puts bytes with their content type under the key", async () => {
    s3.on(PutObjectCommand).resolves({});
    await store().put("files/ws/file_1", new Uint8Array([1, 2, 3]), "application/octet-stream");
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: "workspaces",
      Key: "files/ws/file_1",
      Body: new Uint8Array([1, 2, 3]),
      ContentType: "application/octet-stream",
    });
  });

  it("reads bytes back, and a missing key as undefined", async () => {
    s3.on(GetObjectCommand, { Key: "files/ws/file_1" }).resolves({
      // The SDK's body: only the method the adapter calls.
      Body: {
        transformToByteArray: async () => new Uint8Array([7, 8]),
      } as unknown as GetObjectCommandOutput["Body"],
    });
    s3.on(GetObjectCommand, { Key: "files/ws/gone" }).rejects(
      new NoSuchKey({ message: "no", $metadata: {} }),
    );
    expect(await store().get("files/ws/file_1")).toEqual(new Uint8Array([7, 8]));
    expect(await store().get("files/ws/gone")).toBeUndefined();
  });

  it("deletes the key", async () => {
    s3.on(DeleteObjectCommand).resolves({});
    await store().delete("files/ws/file_1");
    expect(s3.commandCalls(DeleteObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: "workspaces",
      Key: "files/ws/file_1",
    });
  });
});
