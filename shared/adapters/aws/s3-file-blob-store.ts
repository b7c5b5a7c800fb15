/** Uploaded files' bytes in S3 (the workspace bucket, under the `files/` keys the service picks). */
import type { S3Client } from "@aws-sdk/client-s3";
import type { FileBlobStore } from "../../core/ports.js";
import { type SdkClient, sdkClientGetter } from "./sdk-client.js";

export class S3FileBlobStore implements FileBlobStore {
  private readonly client: () => Promise<S3Client>;

  constructor(private readonly options: { client: SdkClient<S3Client>; bucket: string }) {
    this.client = sdkClientGetter(options.client);
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    const { PutObjectCommand } = await import("@aws-sdk/client-s3");
    await (await this.client()).send(
      new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: bytes, ContentType: contentType }),
    );
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const { GetObjectCommand } = await import("@aws-sdk/client-s3");
    const client = await this.client();
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
    } catch (error) {
      if ((error as Error).name === "NoSuchKey") return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    const { DeleteObjectCommand } = await import("@aws-sdk/client-s3");
    await (await this.client()).send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
  }
}
