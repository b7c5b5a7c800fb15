/**
 * The sandbox function's runner, run for real offline: bash on this machine, a local HTTP server in
 * place of S3's presigned GETs and PUT, the marker sweeper (never the Lambda one, which would kill
 * every process of this user). What it cannot show — Lambda's reuse of environments, IAM, the VPC —
 * is covered by the construct tests and docs/sandbox-on-aws.md.
 */

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  decodeWorkspaceChanges,
  defaultSandboxLimits,
  factorSharedQuery,
  SANDBOX_PROTOCOL_VERSION,
  type SandboxInvocation,
  type WorkspaceChanges,
} from "../../shared/adapters/aws/sandbox-protocol.js";
import {
  isKernelThread,
  markerSweeper,
  OutputCollector,
  RUN_MARKER_VARIABLE,
  rewriteCommand,
  runSandboxCall,
  unrewriteOutput,
} from "../../shared/adapters/aws/sandbox-runner.js";

let server: Server;
let origin: string;
const objects = new Map<string, Buffer>();
const puts: Array<{ url: string; body: Buffer }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (
      url.searchParams.get("X-Amz-Signature") !== `sig:${url.pathname}` ||
      url.searchParams.get("X-Amz-Credential") !== "cred"
    ) {
      res.writeHead(403).end("bad signature");
      return;
    }
    if (req.method === "GET") {
      const body = objects.get(url.pathname);
      if (!body) res.writeHead(404).end();
      else res.writeHead(200).end(body);
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      puts.push({ url: url.pathname, body: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 30_000);

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const scratchDirs: string[] = [];
afterEach(() => {
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  objects.clear();
  puts.length = 0;
});

const signed = (path: string) => `${origin}${path}?X-Amz-Credential=cred&X-Amz-Signature=sig:${path}`;

function request(
  files: Record<string, string>,
  overrides: Partial<SandboxInvocation> = {},
): SandboxInvocation {
  const entries = Object.entries(files);
  for (const [path, content] of entries) objects.set(`/ws/${path}`, Buffer.from(content));
  const factored = factorSharedQuery(entries.map(([path]) => signed(`/ws/${path}`)));
  return {
    v: SANDBOX_PROTOCOL_VERSION,
    restart: false,
    timeoutMs: 10_000,
    workspace: {
      ...(factored.sharedQuery ? { sharedQuery: factored.sharedQuery } : {}),
      files: entries.map(([path, content], i) => ({
        path,
        size: content.length,
        url: factored.urls[i] ?? "",
      })),
    },
    changesUrl: signed("/changes"),
    mounts: [],
    limits: defaultSandboxLimits,
    ...overrides,
  };
}

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "reverie-sbx-"));
  scratchDirs.push(dir);
  return dir;
}

const run = (req: SandboxInvocation, scratchDir = scratch()) =>
  runSandboxCall(req, { scratchDir, remainingMs: () => 600_000, reserveMs: 1_000 });

function uploadedChanges(): WorkspaceChanges {
  const put = puts.find((p) => p.url === "/changes");
  if (!put) throw new Error("no changes uploaded");
  return decodeWorkspaceChanges(gunzipSync(put.body));
}

describe("runSandboxCall", () => {
  it("runs the command in /workspace, uploads writes and deletions, and rewrites paths both ways", async () => {
    const result = await run(
      request(
        { "a.txt": "alpha", "dir/b.txt": "beta" },
        {
          command:
            "cat /workspace/dir/b.txt; echo; pwd; echo new > dir/c.txt; rm a.txt; echo oops >&2; exit 3",
        },
      ),
    );
    expect(result.exitCode).toBe(3);
    expect(result.timedOut).toBe(false);
    expect(result.output).toBe("beta\n/workspace\noops\n");
    expect(result.changesUploaded).toBe(true);
    const changes = uploadedChanges();
    expect(changes.deleted).toEqual(["a.txt"]);
    expect(changes.written.map((w) => [w.path, Buffer.from(w.data).toString()])).toEqual([
      ["dir/c.txt", "new\n"],
    ]);
  });

  it("deletes a file the command turned into a folder, so the workspace never holds both a and a/b", async () => {
    const result = await run(request({ a: "file" }, { command: "rm a && mkdir a && echo n > a/b" }));
    expect(result).toMatchObject({ exitCode: 0, changesUploaded: true });
    const changes = uploadedChanges();
    expect(changes.written.map((w) => w.path)).toEqual(["a/b"]);
    expect(changes.deleted).toEqual(["a"]);
  });

  it("still runs when the workspace holds a file and a folder of the same name (a and a/b)", async () => {
    // S3 keys allow it (the write tool can make it); a folder wins, the file is left out and said so.
    const result = await run(request({ a: "file", "a/b": "nested" }, { command: "cat a/b" }));
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain("nested");
    expect(result.output).toMatch(/\/workspace\/a is both a file and a folder/);
    expect(result.changesUploaded).toBe(false);
  });

  it("uploads nothing when nothing changed", async () => {
    const result = await run(request({ "a.txt": "alpha" }, { command: "cat a.txt > /dev/null" }));
    expect(result).toMatchObject({ exitCode: 0, changesUploaded: false });
    expect(puts).toEqual([]);
  });

  it("keeps cwd, variables, functions and aliases between calls through the saved shell state", async () => {
    const first = await run(
      request(
        { "sub/x": "1" },
        {
          command:
            "cd sub && export GREETING='hi there' && COUNT=2 && f() { echo \"f:$1\"; } && alias ll='echo ll'",
        },
      ),
    );
    expect(first.exitCode).toBe(0);
    expect(first.shellState).toContain("GREETING");
    expect(first.shellState).not.toContain(RUN_MARKER_VARIABLE);
    const second = await run(
      request(
        { "sub/x": "1" },
        {
          command: 'pwd; echo "$GREETING $COUNT"; f one; ll; env | grep GREETING',
          shellState: first.shellState,
        },
      ),
    );
    expect(second.output).toBe("/workspace/sub\nhi there 2\nf:one\nll\nGREETING=hi there\n");
    const restarted = await run(
      request(
        { "sub/x": "1" },
        { command: 'pwd; echo "[$GREETING]"', shellState: first.shellState, restart: true },
      ),
    );
    expect(restarted.output).toBe("/workspace\n[]\n");
  });

  it("saves the state even when the command exits early, and keeps the exit code", async () => {
    const result = await run(request({}, { command: "export A=1; exit 7; echo unreachable" }));
    expect(result.exitCode).toBe(7);
    expect(result.shellState).toMatch(/declare -x A="1"/);
  });

  it("passes a scrubbed environment: nothing of the function's own", async () => {
    process.env.REVERIE_TEST_SECRET = "do-not-leak";
    try {
      const result = await run(request({}, { command: "env" }));
      expect(result.output).not.toContain("do-not-leak");
      expect(result.output).not.toMatch(/^AWS_/m);
      expect(result.output).toMatch(/^HOME=.*\/sbx\/home$/m);
      expect(result.output).toMatch(/^WORKSPACE=\/workspace$/m);
    } finally {
      delete process.env.REVERIE_TEST_SECRET;
    }
  });

  it("times out: kills the command, reports exit code null, saves no shell state", async () => {
    const started = Date.now();
    const result = await run(request({}, { command: "echo start; sleep 30", timeoutMs: 500 }));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result).toMatchObject({ timedOut: true, exitCode: null });
    expect(result.output).toContain("start");
    expect(result.shellState).toBeUndefined();
  });

  it("kills background processes, including ones that left the process group", async () => {
    // Durations no other process on the machine has: only this call's sleepers are looked for.
    const tag = randomUUID().replace(/\D/g, "").slice(0, 6).padEnd(6, "0");
    const durations = [`300.${tag}`, `301.${tag}`];
    const result = await run(
      request({}, { command: `sleep ${durations[0]} & setsid sleep ${durations[1]} & echo started` }),
    );
    expect(result.output).toContain("started");
    const sleepers = () =>
      readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            const command = readFileSync(`/proc/${p}/cmdline`, "latin1").split("\0");
            return command.some((arg) => durations.includes(arg));
          } catch {
            return false;
          }
        });
    // A process the sweep killed can take a moment to leave /proc on a loaded machine (two CI runs
    // saw one right after the call); one it missed would live for five minutes.
    let alive = sleepers();
    for (const deadline = Date.now() + 3_000; alive.length > 0 && Date.now() < deadline; alive = sleepers())
      await new Promise((resolve) => setTimeout(resolve, 50));
    // What a survivor was, should there be one: its state, parent and whether it carries the marker.
    const described = alive.map((pid) => {
      const read = (file: string) => {
        try {
          return readFileSync(`/proc/${pid}/${file}`, "latin1");
        } catch {
          return "";
        }
      };
      const status = read("status");
      const field = (name: string) => status.split("\n").find((line) => line.startsWith(`${name}:`)) ?? "";
      return `${pid} ${field("State")} ${field("PPid")} marker:${read("environ").includes(RUN_MARKER_VARIABLE)}`;
    });
    expect(described).toEqual([]);
  });

  it("lays out mounts, reports changes to writable ones only, and wipes its scratch directory", async () => {
    const dir = scratch();
    const result = await run(
      request(
        {},
        {
          command: [
            "cat /mnt/memory/ro/note.md; echo",
            "mkdir -p /mnt/memory/rw/sub",
            "echo changed > /mnt/memory/rw/a.md",
            "echo fresh > /mnt/memory/rw/sub/b.md",
            "rm /mnt/memory/rw/gone.md",
            "echo sneaky > /mnt/memory/ro/note.md 2>/dev/null || echo refused",
          ].join("\n"),
          mounts: [
            { path: "/mnt/memory/ro", readOnly: true, files: [{ path: "note.md", content: "read me" }] },
            {
              path: "/mnt/memory/rw",
              readOnly: false,
              files: [
                { path: "a.md", content: "original" },
                { path: "gone.md", content: "bye" },
                { path: "same.md", content: "same" },
              ],
            },
          ],
        },
      ),
      dir,
    );
    // Root can write a 0444 file: the read-only guarantee is that its changes are never reported.
    expect(result.output).toMatch(/^read me\n(refused\n)?$/);
    expect(result.mountChanges).toEqual(
      expect.arrayContaining([
        { mountPath: "/mnt/memory/rw", path: "a.md", content: "changed\n" },
        { mountPath: "/mnt/memory/rw", path: "sub/b.md", content: "fresh\n" },
        { mountPath: "/mnt/memory/rw", path: "gone.md", content: null },
      ]),
    );
    expect(result.mountChanges).toHaveLength(3);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("truncates long output in the middle with a marker", async () => {
    const result = await run(
      request({}, { command: "seq 1 100000", limits: { ...defaultSandboxLimits, outputBytes: 1000 } }),
    );
    expect(result.output.startsWith("1\n2\n3\n")).toBe(true);
    expect(result.output.endsWith("99999\n100000\n")).toBe(true);
    expect(result.output).toMatch(/\[\.\.\. \d+ bytes of output omitted \.\.\.\]/);
  });

  it("refuses to save oversized workspace changes and says so", async () => {
    const result = await run(
      request(
        {},
        {
          command: "head -c 5000 /dev/zero > big.bin",
          limits: { ...defaultSandboxLimits, changedBytes: 1000 },
        },
      ),
    );
    expect(result.changesUploaded).toBe(false);
    expect(result.output).toContain("workspace changes were not saved");
  });

  it("fails when a download is refused", async () => {
    const req = request({ "a.txt": "x" }, { command: "true" });
    req.workspace.sharedQuery = req.workspace.sharedQuery?.replace("sig:", "forged:");
    await expect(run(req)).rejects.toThrow(/downloading workspace file a.txt failed: HTTP 403/);
  });

  it("only resets when there is no command", async () => {
    const result = await run(request({ "a.txt": "x" }, { restart: true }));
    expect(result).toMatchObject({ output: "", exitCode: 0, changesUploaded: false });
  });
});

describe("path rewriting", () => {
  const fs = "/tmp/sbx/fs";
  it("rewrites whole virtual roots at word boundaries only", () => {
    expect(rewriteCommand("ls /workspace; cat '/workspace/a b' x=/workspace/y", ["/workspace"], fs)).toBe(
      "ls /tmp/sbx/fs/workspace; cat '/tmp/sbx/fs/workspace/a b' x=/tmp/sbx/fs/workspace/y",
    );
    expect(rewriteCommand("ls /workspaces x/workspace", ["/workspace"], fs)).toBe(
      "ls /workspaces x/workspace",
    );
    expect(rewriteCommand("cat /mnt/m/a", ["/workspace", "/mnt/m"], fs)).toBe("cat /tmp/sbx/fs/mnt/m/a");
    expect(unrewriteOutput("/tmp/sbx/fs/workspace/a\n/tmp/sbx/fs/mnt/m", fs)).toBe("/workspace/a\n/mnt/m");
  });
});

describe("OutputCollector", () => {
  it("keeps everything under the limit", () => {
    const c = new OutputCollector(10);
    c.push(Buffer.from("abc"));
    c.push(Buffer.from("def"));
    expect(c.text()).toBe("abcdef");
  });
});

describe("isKernelThread", () => {
  const statOf = (line: string) => async () => line;
  it("reads PF_KTHREAD from the flags, after a command name that may hold spaces and parentheses", async () => {
    expect(await isKernelThread(2, statOf("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0"))).toBe(true);
    expect(await isKernelThread(9, statOf("9 (kworker/R-rcu_g) I 2 0 0 0 -1 69238880 0 0"))).toBe(true);
    // A user process whose name, read naively, would put a kernel thread's flags in field 9.
    expect(await isKernelThread(5, statOf("5 (x) S 1 5 5 0 -1 2129984 y) S 1 5 5 0 -1 4194560 0 0"))).toBe(
      false,
    );
    expect(await isKernelThread(process.pid)).toBe(false);
    expect(await isKernelThread(5, async () => undefined)).toBe(false);
  });
});

describe("markerSweeper", () => {
  it("reads an empty environment again (a process mid-exec) before deciding it is not the run's", async () => {
    const marker = `sweep-${process.pid}-${Date.now()}`;
    const child = spawn("sleep", ["60"], {
      env: { PATH: process.env.PATH, [RUN_MARKER_VARIABLE]: marker },
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The first read of the child's environment comes back empty, as it does in the middle of an exec.
    let emptied = false;
    const environOf = async (pid: number) => {
      if (pid === child.pid && !emptied) {
        emptied = true;
        return "";
      }
      return readFile(`/proc/${pid}/environ`, "latin1").catch(() => undefined);
    };
    try {
      expect(await markerSweeper(marker, environOf)()).toBe(0);
      expect(emptied).toBe(true);
      expect(await exited).toBeDefined();
      expect(child.signalCode).toBe("SIGKILL");
    } finally {
      child.kill("SIGKILL");
    }
  });
});
