/** The local SecretSealer (AES-256-GCM under a key file): round trip, tampering, wrong key, wrong context. */
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AesSecretSealer, SecretOpenError } from "../../shared/adapters/local/aes-secret-sealer.js";

const context = { workspace: "wrkspc_a", vault: "vlt_1", credential: "vcrd_1" };

/** Flips one bit of the base64url part `index` (3 = iv, 4 = ciphertext, 5 = tag) of an envelope. */
function flip(envelope: string, index: number): string {
  const parts = envelope.split(".");
  const bytes = Buffer.from(parts[index] as string, "base64url");
  bytes[0] = (bytes[0] as number) ^ 1;
  parts[index] = bytes.toString("base64url");
  return parts.join(".");
}

describe("AesSecretSealer", () => {
  it("opens what it sealed, and the envelope does not contain the plaintext", async () => {
    const sealer = new AesSecretSealer();
    const envelope = await sealer.seal('{"token":"sk-live-123"}', context);
    expect(envelope).not.toContain("sk-live-123");
    expect(envelope.startsWith("rv1.aes256gcm.")).toBe(true);
    expect(await sealer.open(envelope, context)).toBe('{"token":"sk-live-123"}');
    // A fresh IV every time: the same secret seals differently.
    expect(await sealer.seal('{"token":"sk-live-123"}', context)).not.toBe(envelope);
  });

  it("refuses a tampered envelope (ciphertext, tag or iv)", async () => {
    const sealer = new AesSecretSealer();
    const envelope = await sealer.seal("secret", context);
    for (const part of [3, 4, 5])
      await expect(sealer.open(flip(envelope, part), context)).rejects.toThrow(SecretOpenError);
    await expect(sealer.open("garbage", context)).rejects.toThrow(SecretOpenError);
  });

  it("refuses an envelope sealed under another key", async () => {
    const envelope = await new AesSecretSealer().seal("secret", context);
    await expect(new AesSecretSealer().open(envelope, context)).rejects.toThrow(/not under this key/);
  });

  it("refuses an envelope moved to another record (the context is bound)", async () => {
    const sealer = new AesSecretSealer();
    const envelope = await sealer.seal("secret", context);
    await expect(sealer.open(envelope, { ...context, credential: "vcrd_2" })).rejects.toThrow(
      SecretOpenError,
    );
    await expect(sealer.open(envelope, { ...context, workspace: "wrkspc_b" })).rejects.toThrow(
      SecretOpenError,
    );
  });

  it("creates its key file 0600 on first start and reuses it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sealer-"));
    const file = join(dir, "secrets.key");
    const first = AesSecretSealer.fromKeyFile(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, "utf8").trim(), "base64")).toHaveLength(32);
    const envelope = await first.seal("kept across restarts", context);
    expect(await AesSecretSealer.fromKeyFile(file).open(envelope, context)).toBe("kept across restarts");
  });
});
