import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { S3WorkspaceStore } from "../../shared/adapters/aws/s3-workspace-store.js";
import { MAX_WORKSPACE_READ_BYTES, WorkspaceFileTooLargeError } from "../../shared/core/ports.js";

const s3 = mockClient(S3Client);

/** The part of a GetObject body the store uses: the SDK's `transformToString`. */
function body(text: string): GetObjectCommandOutput["Body"] {
  const bytes = new TextEncoder().encode(text);
  return {
    transformToString: async (encoding?: string) => new TextDecoder(encoding).decode(bytes),
  } as unknown as GetObjectCommandOutput["Body"];
}

describe("S3WorkspaceStore", () => {
  let store: S3WorkspaceStore;

  beforeEach(() => {
    s3.reset();
    store = new S3WorkspaceStore({
      client: new S3Client({ region: "us-east-1" }),
      bucket: "bkt",
      prefix: "rv/",
    });
  });

  it("reads an object under <prefix>workspaces/<id>/<path>", async () => {
    s3.on(GetObjectCommand, { Bucket: "bkt", Key: "rv/workspaces/ws_1/a/b.txt" }).resolves({
      Body: body("héllo"),
    });
    expect(await store.read("ws_1", "a/b.txt")).toBe("héllo");
  });

  it("refuses to load an object larger than MAX_WORKSPACE_READ_BYTES, without reading its body", async () => {
    let bodyRead = false;
    s3.on(GetObjectCommand).resolves({
      ContentLength: MAX_WORKSPACE_READ_BYTES + 1,
      Body: {
        transformToString: async () => {
          bodyRead = true;
          return "";
        },
        destroy: () => undefined,
      } as unknown as GetObjectCommandOutput["Body"],
    });
    await expect(store.read("ws_1", "huge.bin")).rejects.toBeInstanceOf(WorkspaceFileTooLargeError);
    expect(bodyRead).toBe(false);
  });

  it("returns undefined on NoSuchKey", async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: "gone", $metadata: {} }));
    expect(await store.read("ws_1", "missing.txt")).toBeUndefined();
  });

  it("rethrows other errors", async () => {
    s3.on(GetObjectCommand).rejects(
      new S3ServiceException({ name: "AccessDenied", $fault: "client", message: "denied", $metadata: {} }),
    );
    await expect(store.read("ws_1", "x.txt")).rejects.toThrow("denied");
  });

  it("writes with PutObject", async () => {
    s3.on(PutObjectCommand).resolves({});
    await store.write("ws_1", "dir/f.md", "content");
    const calls = s3.commandCalls(PutObjectCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toMatchObject({
      Bucket: "bkt",
      Key: "rv/workspaces/ws_1/dir/f.md",
      Body: "content",
      ContentType: "text/plain; charset=utf-8",
    });
  });

  it("lists every page, newest first, with paths relative to the workspace", async () => {
    s3.on(ListObjectsV2Command, {
      Bucket: "bkt",
      Prefix: "rv/workspaces/ws_1/",
      ContinuationToken: undefined,
    }).resolves({
      IsTruncated: true,
      NextContinuationToken: "t2",
      Contents: [
        { Key: "rv/workspaces/ws_1/a.txt", Size: 3, LastModified: new Date(1_000) },
        { Key: "rv/workspaces/ws_1/sub/b.txt", Size: 5, LastModified: new Date(3_000) },
      ],
    });
    s3.on(ListObjectsV2Command, {
      Bucket: "bkt",
      Prefix: "rv/workspaces/ws_1/",
      ContinuationToken: "t2",
    }).resolves({
      IsTruncated: false,
      Contents: [{ Key: "rv/workspaces/ws_1/c.txt", Size: 1, LastModified: new Date(2_000) }],
    });
    expect(await store.list("ws_1")).toEqual([
      { path: "sub/b.txt", size: 5, modifiedAt: 3_000 },
      { path: "c.txt", size: 1, modifiedAt: 2_000 },
      { path: "a.txt", size: 3, modifiedAt: 1_000 },
    ]);
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(2);
  });

  it("lists nothing for an empty workspace", async () => {
    s3.on(ListObjectsV2Command).resolves({ IsTruncated: false });
    expect(await store.list("ws_empty")).toEqual([]);
  });

  it("works without a prefix", async () => {
    const bare = new S3WorkspaceStore({ client: new S3Client({ region: "us-east-1" }), bucket: "bkt" });
    s3.on(PutObjectCommand).resolves({});
    await bare.write("ws_9", "x.txt", "x");
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Key).toBe("workspaces/ws_9/x.txt");
  });

  it("refuses workspace ids that would reach another workspace's prefix", async () => {
    await expect(store.read("ws_1/../ws_2", "x")).rejects.toThrow(/invalid workspace id/);
    await expect(store.write("", "x", "x")).rejects.toThrow(/invalid workspace id/);
  });
});
