/**
 * The local SecretSealer: AES-256-GCM under one 32-byte key kept in a file of the data dir (created
 * 0600 on first start). The context is the GCM associated data, so an envelope opens only for the
 * record it was sealed for; the key's id travels in the envelope, so a wrong key is named as such.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import type { SecretSealer } from "../../core/ports.js";

/** An envelope that does not open: tampered with, sealed under another key or for another context. */
export class SecretOpenError extends Error {
  override name = "SecretOpenError";
}

const VERSION = "rv1";
const SCHEME = "aes256gcm";

/** Canonical bytes of a context (sorted keys), the associated data of the seal. */
export function contextBytes(context: Readonly<Record<string, string>>): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return Buffer.from(JSON.stringify(sorted), "utf8");
}

/** Seals `plaintext` with a 32-byte key; the envelope is `rv1.aes256gcm.<keyId>.<iv>.<ciphertext>.<tag>`. */
export function aesSeal(key: Buffer, keyId: string, plaintext: string, aad: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, SCHEME, keyId, iv, ciphertext, tag]
    .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
    .join(".");
}

/** Opens an envelope of {@link aesSeal}; throws SecretOpenError on any mismatch. */
export function aesOpen(key: Buffer, keyId: string, envelope: string, aad: Buffer): string {
  const parts = envelope.split(".");
  if (parts.length !== 6 || parts[0] !== VERSION || parts[1] !== SCHEME)
    throw new SecretOpenError("not a sealed secret of this format");
  if (parts[2] !== keyId)
    throw new SecretOpenError(`sealed under key ${parts[2]}, not under this key (${keyId})`);
  const [iv, ciphertext, tag] = parts.slice(3).map((p) => Buffer.from(p, "base64url")) as [
    Buffer,
    Buffer,
    Buffer,
  ];
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("utf8");
  } catch (error) {
    throw new SecretOpenError("the sealed secret does not authenticate (tampered, or another context)", {
      cause: error,
    });
  }
}

/** A short, non-secret name of a key: the first 8 bytes of its SHA-256, hex. */
export function keyIdOf(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

/**
 * Reads the key file, or creates it (32 random bytes, base64, mode 0600) when it does not exist yet.
 * Creation is exclusive, so two processes racing on a new data dir end up with the same key.
 */
export function loadOrCreateKeyFile(path: string): Buffer {
  try {
    writeFileSync(path, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const key = Buffer.from(readFileSync(path, "utf8").trim(), "base64");
  if (key.length !== 32) throw new Error(`${path} does not hold a 32-byte key (base64)`);
  return key;
}

export class AesSecretSealer implements SecretSealer {
  private readonly keyId: string;

  /** `key`: 32 bytes (see {@link loadOrCreateKeyFile}); a fresh random key when omitted (in-memory stacks). */
  constructor(private readonly key: Buffer = randomBytes(32)) {
    if (key.length !== 32) throw new Error("an AES-256 key is 32 bytes");
    this.keyId = keyIdOf(key);
  }

  static fromKeyFile(path: string): AesSecretSealer {
    return new AesSecretSealer(loadOrCreateKeyFile(path));
  }

  async seal(plaintext: string, context: Readonly<Record<string, string>>): Promise<string> {
    return aesSeal(this.key, this.keyId, plaintext, contextBytes(context));
  }

  async open(envelope: string, context: Readonly<Record<string, string>>): Promise<string> {
    return aesOpen(this.key, this.keyId, envelope, contextBytes(context));
  }
}
