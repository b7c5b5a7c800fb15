/**
 * The AWS SecretSealer: KMS envelope encryption. Each seal asks KMS for a fresh AES-256 data key
 * (GenerateDataKey, with the context as the encryption context), encrypts with it locally under
 * AES-256-GCM (the context again as associated data) and keeps only the KMS-encrypted data key in
 * the envelope; opening asks KMS to decrypt that key (Decrypt, same context, pinned to the key id).
 * The plaintext data key never leaves memory; the master key never leaves KMS.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { KMSClient } from "@aws-sdk/client-kms";
import type { SecretSealer } from "../../core/ports.js";
import { type SdkClient, sdkClientGetter } from "./sdk-client.js";

/** An envelope that does not open: tampered with, or not for this key or this context. */
export class KmsSecretOpenError extends Error {
  override name = "KmsSecretOpenError";
}

const VERSION = "rv1";
const SCHEME = "kms";

export interface KmsSecretSealerOptions {
  client: SdkClient<KMSClient>;
  /** The KMS key's id or ARN (`REVERIE_SECRETS_KMS_KEY_ID`). */
  keyId: string;
}

function contextBytes(context: Readonly<Record<string, string>>): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return Buffer.from(JSON.stringify(sorted), "utf8");
}

export class KmsSecretSealer implements SecretSealer {
  private readonly client: () => Promise<KMSClient>;

  constructor(private readonly options: KmsSecretSealerOptions) {
    this.client = sdkClientGetter(options.client);
  }

  async seal(plaintext: string, context: Readonly<Record<string, string>>): Promise<string> {
    const { GenerateDataKeyCommand } = await import("@aws-sdk/client-kms");
    const dataKey = await (await this.client()).send(
      new GenerateDataKeyCommand({
        KeyId: this.options.keyId,
        KeySpec: "AES_256",
        EncryptionContext: { ...context },
      }),
    );
    if (!dataKey.Plaintext || !dataKey.CiphertextBlob) throw new Error("KMS GenerateDataKey returned no key");
    const key = Buffer.from(dataKey.Plaintext);
    try {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(contextBytes(context));
      const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return [VERSION, SCHEME, Buffer.from(dataKey.CiphertextBlob), iv, ciphertext, cipher.getAuthTag()]
        .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
        .join(".");
    } finally {
      key.fill(0);
    }
  }

  async open(envelope: string, context: Readonly<Record<string, string>>): Promise<string> {
    const parts = envelope.split(".");
    if (parts.length !== 6 || parts[0] !== VERSION || parts[1] !== SCHEME)
      throw new KmsSecretOpenError("not a KMS-sealed secret");
    const [wrapped, iv, ciphertext, tag] = parts.slice(2).map((p) => Buffer.from(p, "base64url")) as [
      Buffer,
      Buffer,
      Buffer,
      Buffer,
    ];
    let key: Buffer;
    try {
      const { DecryptCommand } = await import("@aws-sdk/client-kms");
      const decrypted = await (await this.client()).send(
        new DecryptCommand({
          CiphertextBlob: wrapped,
          KeyId: this.options.keyId,
          EncryptionContext: { ...context },
        }),
      );
      if (!decrypted.Plaintext) throw new Error("KMS Decrypt returned no key");
      key = Buffer.from(decrypted.Plaintext);
    } catch (error) {
      throw new KmsSecretOpenError(`KMS refused to decrypt the data key: ${(error as Error).name}`, {
        cause: error,
      });
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, iv);
      decipher.setAAD(contextBytes(context));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("utf8");
    } catch (error) {
      throw new KmsSecretOpenError("the sealed secret does not authenticate (tampered, or another context)", {
        cause: error,
      });
    } finally {
      key.fill(0);
    }
  }
}
