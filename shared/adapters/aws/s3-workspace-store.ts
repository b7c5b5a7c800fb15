/**
 * The WorkspaceStore on AWS: one S3 object per file under `<prefix>workspaces/<workspaceId>/`.
 * A PutObject replaces an object atomically, so readers never see a partial write.
 */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { WorkspaceFile, WorkspaceStore } from "../../core/ports.js";

/** A workspace id or path that does not map onto a key under the workspace's prefix. */
export class InvalidWorkspaceKeyError extends Error {
  override name = "InvalidWorkspaceKeyError";
}

export interface S3WorkspaceStoreOptions {
  client: S3Client;
  bucket: string;
  /** Prepended to every key, e.g. `reverie/`; empty by default. */
  prefix?: string;
}

export class S3WorkspaceStore implements WorkspaceStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3WorkspaceStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? "";
  }

  async read(workspaceId: string, path: string): Promise<string | undefined> {
    try {
      const output = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(workspaceId, path) }),
      );
      return (await output.Body?.transformToString("utf-8")) ?? "";
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === "NoSuchKey") return undefined;
      throw error;
    }
  }

  async write(workspaceId: string, path: string, content: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.keyOf(workspaceId, path),
        Body: content,
        ContentType: "text/plain; charset=utf-8",
      }),
    );
  }

  async list(workspaceId: string): Promise<WorkspaceFile[]> {
    const root = this.rootOf(workspaceId);
    const files: WorkspaceFile[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.client.send(
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
