/**
 * The KMS SecretSealer against a mocked KMS that behaves like the real one: GenerateDataKey returns
 * a random data key and a blob only Decrypt with the same key id and encryption context opens.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KmsSecretOpenError, KmsSecretSealer } from "../../shared/adapters/aws/kms-secret-sealer.js";

const KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1111-2222";
const kms = mockClient(KMSClient);
const context = { workspace: "wrkspc_a", vault: "vlt_1", credential: "vcrd_1" };

/** Data keys KMS "wrapped", by blob: the key, its key id and the context it was bound to. */
let wrapped: Map<string, { key: Uint8Array; keyId: string; context: string }>;

class InvalidCiphertextException extends Error {
  override name = "InvalidCiphertextException";
}

beforeEach(() => {
  wrapped = new Map();
  kms.on(GenerateDataKeyCommand).callsFake((input) => {
    const key = randomBytes(32);
    const blob = Buffer.from(randomUUID());
    wrapped.set(blob.toString("hex"), {
      key: new Uint8Array(key),
      keyId: input.KeyId,
      context: JSON.stringify(input.EncryptionContext),
    });
    return { Plaintext: new Uint8Array(key), CiphertextBlob: new Uint8Array(blob), KeyId: input.KeyId };
  });
  kms.on(DecryptCommand).callsFake((input) => {
    const entry = wrapped.get(Buffer.from(input.CiphertextBlob).toString("hex"));
    if (!entry || entry.keyId !== input.KeyId || entry.context !== JSON.stringify(input.EncryptionContext))
      throw new InvalidCiphertextException("invalid ciphertext");
    return { Plaintext: new Uint8Array(entry.key), KeyId: entry.keyId };
  });
});
afterEach(() => kms.reset());

const sealer = () => new KmsSecretSealer({ client: new KMSClient({}), keyId: KEY_ARN });

describe("KmsSecretSealer", () => {
  it("seals with a fresh data key under the key and context, and opens with Decrypt", async () => {
    const envelope = await sealer().seal("sk-kms-secret", context);
    expect(envelope).not.toContain("sk-kms-secret");
    const generated = kms.commandCalls(GenerateDataKeyCommand).map((c) => c.args[0].input);
    expect(generated).toEqual([{ KeyId: KEY_ARN, KeySpec: "AES_256", EncryptionContext: context }]);
    expect(await sealer().open(envelope, context)).toBe("sk-kms-secret");
    const decrypted = kms.commandCalls(DecryptCommand).map((c) => c.args[0].input);
    expect(decrypted[0]).toMatchObject({ KeyId: KEY_ARN, EncryptionContext: context });
  });

  it("refuses another context (KMS refuses the data key)", async () => {
    const envelope = await sealer().seal("s", context);
    await expect(sealer().open(envelope, { ...context, credential: "vcrd_2" })).rejects.toThrow(
      KmsSecretOpenError,
    );
  });

  it("refuses a tampered ciphertext", async () => {
    const envelope = await sealer().seal("secret value", context);
    const parts = envelope.split(".");
    const bytes = Buffer.from(parts[4] as string, "base64url");
    bytes[0] = (bytes[0] as number) ^ 1;
    parts[4] = bytes.toString("base64url");
    await expect(sealer().open(parts.join("."), context)).rejects.toThrow(/does not authenticate/);
  });

  it("refuses an envelope of another key", async () => {
    const envelope = await sealer().seal("s", context);
    const other = new KmsSecretSealer({ client: new KMSClient({}), keyId: `${KEY_ARN}-other` });
    await expect(other.open(envelope, context)).rejects.toThrow(/KMS refused/);
  });
});
