/**
 * The bubblewrap sandbox as `npm start` usually runs it: as a non-root user, where no pids cgroup is
 * writable and the process bound is RLIMIT_NPROC inside the sandbox's user namespace. Nothing a
 * command starts may outlive its call there either (a background job could race the file tools,
 * which run outside the sandbox): the sandbox's pid namespace says which processes are its own.
 * The suite runs as root in CI, so this test runs a small script as `nobody` (setpriv); run as a
 * non-root user, the main sandbox suite already takes this path.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { lastCount } from "../fixtures/shell-output.js";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const setpriv = spawnSync("sh", ["-c", "command -v setpriv"], { encoding: "utf8" }).stdout.trim();
const asRoot = process.getuid?.() === 0;

/** Runs in the child, as nobody: a background job, then two looks at whether it still ticks. */
const SCRIPT = (dir: string) => `
import { BubblewrapSandbox } from ${JSON.stringify(pathToFileURL(path.join(repoRoot, "shared/adapters/local/bubblewrap-sandbox.ts")).href)};
const sandbox = new BubblewrapSandbox({
  workspaceDir: (id) => ${JSON.stringify(dir)} + "/workspaces/" + id,
  scratchDir: ${JSON.stringify(path.join(dir, "scratch"))},
});
const exec = (command) => sandbox.exec({ sessionId: "s", workspaceId: "w", mounts: [], network: { type: "unrestricted" }, command });
const availability = await sandbox.availability();
const out = { uid: process.getuid(), availability };
if (availability.available) {
  await exec("(while true; do echo tick >> /workspace/ticks.txt; sleep 0.05; done) & echo started");
  await new Promise((r) => setTimeout(r, 300));
  out.first = (await exec("cat /workspace/ticks.txt 2>/dev/null | wc -l")).output;
  await new Promise((r) => setTimeout(r, 300));
  out.second = (await exec("cat /workspace/ticks.txt 2>/dev/null | wc -l")).output;
  out.shell = (await exec("export KEEP=1; echo $KEEP")).output;
  // A job that keeps forking a new process and exiting: killed, or its sandbox ended with it.
  await exec("h(){ echo $1 >> /workspace/hops.txt; (h $(($1+1)) &); }; (h 0 &); echo started");
  await new Promise((r) => setTimeout(r, 300));
  out.hopsFirst = (await exec("cat /workspace/hops.txt 2>/dev/null | wc -l")).output;
  await new Promise((r) => setTimeout(r, 300));
  out.hopsSecond = (await exec("cat /workspace/hops.txt 2>/dev/null | wc -l")).output;
}
await sandbox.dispose();
console.log(JSON.stringify(out));
process.exit(0);
`;

describe.runIf(asRoot && setpriv !== "")("BubblewrapSandbox run by a non-root user", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "reverie-bwrap-nobody-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lets nothing a command started outlive the call, not even a job that keeps forking anew", () => {
    chmodSync(dir, 0o777);
    const script = path.join(dir, "strays.mts");
    writeFileSync(script, SCRIPT(dir));
    const child = spawnSync(
      setpriv,
      ["--reuid=65534", "--regid=65534", "--clear-groups", "--", process.execPath, "--import", "tsx", script],
      { cwd: repoRoot, encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: dir }, timeout: 60_000 },
    );
    const result = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}");
    expect(result, child.stderr).toMatchObject({ uid: 65534, availability: { available: true } });
    // The job was killed when its call returned: it never ticked again.
    expect(lastCount(result.second)).toBe(lastCount(result.first));
    expect(lastCount(result.first)).toBeLessThanOrEqual(2);
    // The shell itself survives.
    expect(result.shell).toBe("1");
    expect(lastCount(result.hopsSecond)).toBe(lastCount(result.hopsFirst));
  });
});
