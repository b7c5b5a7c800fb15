/**
 * The WorkspaceStore on AWS: one S3 object per file under `<prefix>workspaces/<workspaceId>/`.
 * A PutObject replaces an object atomically, so readers never see a partial write.
 */
import type { ListObjectsV2CommandOutput, S3Client } from "@aws-sdk/client-s3";
import {
  MAX_WORKSPACE_READ_BYTES,
  type WorkspaceFile,
  WorkspaceFileTooLargeError,
  type WorkspaceStore,
} from "../../core/ports.js";
import { type SdkClient, sdkClientGetter } from "./sdk-client.js";

/** A workspace id or path that does not map onto a key under the workspace's prefix. */
export class InvalidWorkspaceKeyError extends Error {
  override name = "InvalidWorkspaceKeyError";
}

export interface S3WorkspaceStoreOptions {
  client: SdkClient<S3Client>;
  bucket: string;
  /** Prepended to every key, e.g. `reverie/`; empty by default. */
  prefix?: string;
}

export class S3WorkspaceStore implements WorkspaceStore {
  private readonly client: () => Promise<S3Client>;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3WorkspaceStoreOptions) {
    this.client = sdkClientGetter(options.client);
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? "";
  }

  async read(workspaceId: string, path: string): Promise<string | undefined> {
    const key = this.keyOf(workspaceId, path);
    const [{ GetObjectCommand, NoSuchKey }, client] = await Promise.all([
      import("@aws-sdk/client-s3"),
      this.client(),
    ]);
    try {
      const output = await client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const size = output.ContentLength ?? 0;
      if (size > MAX_WORKSPACE_READ_BYTES) {
        // Not read: the body is let go (a stream left open would hold the connection).
        (output.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw new WorkspaceFileTooLargeError(size);
      }
      return (await output.Body?.transformToString("utf-8")) ?? "";
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === "NoSuchKey") return undefined;
      throw error;
    }
  }

  async write(workspaceId: string, path: string, content: string): Promise<void> {
    const key = this.keyOf(workspaceId, path);
    const [{ PutObjectCommand }, client] = await Promise.all([import("@aws-sdk/client-s3"), this.client()]);
    await client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: content,
        ContentType: "text/plain; charset=utf-8",
      }),
    );
  }

  async list(workspaceId: string): Promise<WorkspaceFile[]> {
    const root = this.rootOf(workspaceId);
    const [{ ListObjectsV2Command }, client] = await Promise.all([
      import("@aws-sdk/client-s3"),
      this.client(),
    ]);
    const files: WorkspaceFile[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: root, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        if (!object.Key || object.Key.length <= root.length) continue;
        files.push({
          path: object.Key.slice(root.length),
          size: object.Size ?? 0,
          modifiedAt: object.LastModified?.getTime() ?? 0,
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return files.sort(
      (a, b) => b.modifiedAt - a.modifiedAt || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
    );
  }

  private rootOf(workspaceId: string): string {
    if (workspaceId === "" || workspaceId.includes("/")) {
      throw new InvalidWorkspaceKeyError(`invalid workspace id ${JSON.stringify(workspaceId)}`);
    }
    return `${this.prefix}workspaces/${workspaceId}/`;
  }

  private keyOf(workspaceId: string, path: string): string {
    if (path === "" || path.startsWith("/")) {
      throw new InvalidWorkspaceKeyError(`invalid workspace path ${JSON.stringify(path)}`);
    }
    return `${this.rootOf(workspaceId)}${path}`;
  }
}
