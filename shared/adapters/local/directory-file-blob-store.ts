/** Uploaded files' bytes in a directory under the data dir (written to a temp file, then renamed). */
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { FileBlobStore } from "../../core/ports.js";

export class DirectoryFileBlobStore implements FileBlobStore {
  constructor(private readonly root: string) {}

  private fileOf(key: string): string {
    // Keys are service-made (`files/<workspace>/<file id>`); refuse anything that could climb out.
    if (!/^[\w/.-]+$/.test(key) || key.split("/").some((p) => p === ".." || p === ""))
      throw new Error(`invalid file key ${JSON.stringify(key)}`);
    return path.join(this.root, key);
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const target = this.fileOf(key);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${randomUUID()}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, target);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.fileOf(key)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.fileOf(key), { force: true });
  }
}
