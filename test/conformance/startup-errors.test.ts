/**
 * `npm start` failures a user can fix are one line naming what to change — a second stack on the
 * same data dir, a port in use, a bad variable — never a stack trace or a crash later on.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { failedStart, freePort, type StackProcess, startStackProcess } from "../fixtures/stack-process.js";

const dirs: string[] = [];
const stacks: StackProcess[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "reverie-start-"));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  for (const stack of stacks) await stack.kill();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("start-up errors", () => {
  it("refuses a second stack on a data dir in use, and a port in use, in one line each", async () => {
    const dataDir = tempDir();
    const port = await freePort();
    stacks.push(await startStackProcess(port, { REVERIE_DATA_DIR: dataDir, REVERIE_LOG_LEVEL: "WARN" }));

    const sameDir = await failedStart({ REVERIE_DATA_DIR: dataDir, PORT: String(await freePort()) });
    expect(sameDir.code).toBe(1);
    expect(sameDir.output.trim()).toMatch(/^reverie: data dir .* is in use by another Reverie \(pid \d+\)/);
    expect(sameDir.output.trim().split("\n")).toHaveLength(1);

    const samePort = await failedStart({ REVERIE_DATA_DIR: tempDir(), PORT: String(port) });
    expect(samePort.code).toBe(1);
    expect(samePort.output.trim()).toBe(
      `reverie: port ${port} on 127.0.0.1 is in use: stop what listens there, or set PORT`,
    );

    const badValue = await failedStart({ REVERIE_DATA_DIR: tempDir(), PORT: "eighty" });
    expect(badValue.code).toBe(1);
    expect(badValue.output.trim()).toMatch(/^reverie: invalid configuration: PORT: /);
  });

  it("takes over the lock of a stack that was killed", async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const first = await startStackProcess(port, { REVERIE_DATA_DIR: dataDir, REVERIE_LOG_LEVEL: "WARN" });
    await first.kill();
    const second = await startStackProcess(port, { REVERIE_DATA_DIR: dataDir, REVERIE_LOG_LEVEL: "WARN" });
    stacks.push(second);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  });
});
