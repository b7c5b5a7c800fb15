/**
 * The bubblewrap sandbox on the real thing: bwrap, socat and sandbox-runtime's proxy. Nothing here
 * is skipped when bubblewrap is missing: availability() must say yes (CI installs it). No traffic
 * leaves this machine: the only server is the test's own on 127.0.0.1, and the proxy refuses the
 * other destinations before it resolves or dials them.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BubblewrapSandbox } from "../../shared/adapters/local/bubblewrap-sandbox.js";
import type { SandboxExecRequest, SandboxMount, SandboxNetwork } from "../../shared/core/ports.js";
import { lastCount } from "../fixtures/shell-output.js";

const UNRESTRICTED: SandboxNetwork = { type: "unrestricted" };
const SECRET_VARS = {
  REVERIE_API_KEY: "rk_test_must_not_leak",
  ANTHROPIC_API_KEY: "sk-ant-must-not-leak",
  AWS_SECRET_ACCESS_KEY: "aws-must-not-leak",
};

/** A bash snippet that asks the sandbox's proxy for `method target` and prints its status line. */
function viaProxy(method: "CONNECT" | "GET", target: string): string {
  const requestTarget = method === "CONNECT" ? target : `http://${target}/`;
  const lines = [
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
    'p=${HTTP_PROXY#http://}; cred=${p%@*}; cred=$(printf "%b" "${cred//%/\\\\x}")',
    "exec 5<>/dev/tcp/127.0.0.1/3128 || exit 9",
    `printf '${method} %s HTTP/1.1\\r\\nHost: %s\\r\\nProxy-Authorization: Basic %s\\r\\nConnection: close\\r\\n\\r\\n' '${requestTarget}' '${target}' "$(printf %s "$cred" | base64 -w0)" >&5`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
    "IFS= read -r -t 10 line <&5; printf 'status: %s\\n' \"${line%$'\\r'}\"",
  ];
  return `(\n${lines.join("\n")}\n)`;
}

describe("BubblewrapSandbox", () => {
  let root: string;
  let dataDir: string;
  let sandbox: BubblewrapSandbox;
  let server: http.Server;
  let port: number;
  let hits = 0;
  const savedEnv: Record<string, string | undefined> = {};

  const exec = (command: string | undefined, extra: Partial<SandboxExecRequest> = {}) =>
    sandbox.exec({
      sessionId: "sess_a",
      workspaceId: "ws_a",
      mounts: [],
      network: UNRESTRICTED,
      command,
      ...extra,
    });

  beforeAll(async () => {
    for (const [name, value] of Object.entries(SECRET_VARS)) {
      savedEnv[name] = process.env[name];
      process.env[name] = value;
    }
    root = await mkdtemp(path.join(tmpdir(), "reverie-bwrap-"));
    dataDir = path.join(root, "data");
    await mkdir(path.join(dataDir, "workspaces"), { recursive: true });
    await writeFile(path.join(dataDir, "secret.txt"), "TOP-SECRET-DATA");
    await writeFile(path.join(root, "visible.txt"), "visible");
    sandbox = new BubblewrapSandbox({
      workspaceDir: (id) => path.join(dataDir, "workspaces", id),
      hiddenPaths: [dataDir],
      // The data dir's parent is bound, so only the hiding keeps the data dir out of sight.
      extraReadOnlyPaths: [root],
      scratchDir: path.join(root, "scratch"),
      maxProcesses: 48,
    });
    server = http.createServer((_req, res) => {
      hits++;
      res.end("host loopback reached");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await sandbox?.dispose();
    await new Promise((resolve) => server?.close(resolve));
    await rm(root, { recursive: true, force: true });
    for (const [name, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("is available here (bubblewrap, socat and a process bound)", async () => {
    expect(await sandbox.availability()).toEqual({ available: true });
  });

  it("runs a command and reports its exit code", async () => {
    expect(await exec("echo $((6*7))")).toEqual({
      output: "42",
      exitCode: 0,
      timedOut: false,
      mountChanges: [],
    });
    const failed = await exec("echo oops >&2; exit_code=3; (exit $exit_code)");
    expect(failed).toMatchObject({ output: "oops", exitCode: 3, timedOut: false });
  });

  it("keeps the working directory and variables between calls, and restart clears them", async () => {
    await exec("mkdir -p sub && cd sub && export X=1");
    expect((await exec("pwd; echo $X")).output).toBe("/workspace/sub\n1");
    expect(await exec(undefined, { restart: true })).toMatchObject({ exitCode: 0, timedOut: false });
    expect((await exec('pwd; echo "[$X]"')).output).toBe("/workspace\n[]");
  });

  it("behaves like the SDK's shell: no stdin, ANSI stripped, syntax errors answered, long output cut at the front", async () => {
    expect((await exec("cat; echo done")).output).toBe("done");
    expect((await exec("printf '\\033[31mred\\033[0m\\n'")).output).toBe("red");
    const syntax = await exec("echo 'unterminated", { timeoutMs: 10_000 });
    expect(syntax.timedOut).toBe(false);
    expect(syntax.exitCode).not.toBe(0);
    const long = await exec("head -c 300000 /dev/zero | tr '\\0' a; echo; echo THE-END");
    expect(long.output.startsWith("[output truncated]\n")).toBe(true);
    expect(long.output.endsWith("THE-END")).toBe(true);
    expect(long.output.length).toBeLessThanOrEqual(100 * 1024 + 20);
  });

  it("writes the workspace: a file bash writes is in the workspace directory on the host", async () => {
    await exec("echo from-bash > made-by-bash.txt");
    expect(await readFile(path.join(dataDir, "workspaces", "ws_a", "made-by-bash.txt"), "utf8")).toBe(
      "from-bash\n",
    );
  });

  it("lets nothing a command started outlive the call (no background job races the file tools)", async () => {
    await exec("(while true; do echo tick >> /workspace/ticks.txt; sleep 0.05; done) & echo started");
    await new Promise((r) => setTimeout(r, 300));
    // The job may be killed before its first tick: no file counts as 0 lines.
    const first = await exec("cat /workspace/ticks.txt 2>/dev/null | wc -l");
    await new Promise((r) => setTimeout(r, 300));
    const second = await exec("cat /workspace/ticks.txt 2>/dev/null | wc -l");
    expect(lastCount(second.output)).toBe(lastCount(first.output));
    expect(lastCount(first.output)).toBeLessThanOrEqual(2);
    // The shell itself, its state and the network proxy survive.
    expect((await exec("export KEEP=1; echo ok")).output).toBe("ok");
    expect((await exec("echo $KEEP")).output).toBe("1");
  });

  it("kills a command at its timeout and starts the next call in a fresh shell", async () => {
    await exec("export BEFORE=yes");
    const started = Date.now();
    const result = await exec("sleep 999", { timeoutMs: 1_000 });
    expect(result).toMatchObject({ exitCode: null, timedOut: true });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await exec('echo "alive [$BEFORE]"')).output).toBe("alive []");
  });

  it("caps the number of processes in one sandbox", async () => {
    // perl, unlike bash, does not retry a failed fork: it says how many it got.
    const script =
      'my @kids; for (1..100) { my $p = fork; last unless defined $p; if (!$p) { sleep 30; exit } push @kids, $p } print scalar(@kids), "\\n"; kill "KILL", @kids; waitpid($_, 0) for @kids;';
    const result = await exec(`perl -e '${script}'`, { sessionId: "sess_cap", timeoutMs: 30_000 });
    const started = Number(result.output.split("\n")[0]);
    expect(started).toBeGreaterThan(10);
    expect(started).toBeLessThan(48);
  });

  it("ends a fork bomb at its timeout, and the next call works", async () => {
    const result = await exec(":(){ :|:& };:; sleep 60", { timeoutMs: 2_000 });
    expect(result.timedOut).toBe(true);
    expect((await exec("echo alive")).output).toBe("alive");
  });

  it("cannot read the stack's data dir, even where its parent is bound", async () => {
    expect((await exec(`cat ${root}/visible.txt`)).output).toBe("visible");
    const result = await exec(`cat ${dataDir}/secret.txt 2>&1; echo "[$(ls -A ${dataDir})]"`);
    expect(result.output).toBe(`cat: ${dataDir}/secret.txt: No such file or directory\n[]`);
    expect((await exec("cat /etc/shadow; ls /root /home /var 2>&1 | head -3")).output).not.toMatch(/root:/);
  });

  it("never sees the host process's environment", async () => {
    const env = (await exec("env; cat /proc/1/environ | tr '\\0' '\\n'")).output;
    for (const [name, value] of Object.entries(SECRET_VARS)) {
      expect(env).not.toContain(name);
      expect(env).not.toContain(value);
    }
    expect(env).toContain("HOME=/tmp/home");
  });

  it("cannot write a read-only mount (the kernel refuses), nor /usr", async () => {
    const mounts: SandboxMount[] = [
      { path: "/mnt/memory/ro", readOnly: true, files: [{ path: "a.md", content: "read only\n" }] },
    ];
    const result = await exec(
      "cat /mnt/memory/ro/a.md; echo x > /mnt/memory/ro/a.md; echo x > /mnt/memory/ro/b.md; touch /usr/x",
      { sessionId: "sess_ro", mounts },
    );
    expect(result.output).toContain("read only");
    expect(result.output.match(/Read-only file system/g)?.length).toBe(3);
    expect(result.exitCode).not.toBe(0);
    expect(result.mountChanges).toEqual([]);
  });

  it("reports what a command changes in a writable mount, and follows the store between calls", async () => {
    const mount = (files: SandboxMount["files"]): SandboxMount[] => [
      { path: "/mnt/memory/notes", readOnly: false, files },
    ];
    const first = await exec(
      [
        "cd /mnt/memory/notes",
        "echo new > new.md",
        "echo more >> keep.md",
        "rm gone.md",
        "ln -s /etc/passwd link.md",
        "mkdir -p d && printf 'x\\n' > 'd/with space.md'",
      ].join("; "),
      {
        sessionId: "sess_rw",
        mounts: mount([
          { path: "keep.md", content: "keep\n" },
          { path: "gone.md", content: "gone\n" },
        ]),
      },
    );
    expect(first.exitCode).toBe(0);
    const byPath = Object.fromEntries(first.mountChanges.map((c) => [c.path, c]));
    expect(byPath).toEqual({
      "new.md": { mountPath: "/mnt/memory/notes", path: "new.md", content: "new\n" },
      "keep.md": { mountPath: "/mnt/memory/notes", path: "keep.md", content: "keep\nmore\n" },
      "gone.md": { mountPath: "/mnt/memory/notes", path: "gone.md", content: null },
      "d/with space.md": { mountPath: "/mnt/memory/notes", path: "d/with space.md", content: "x\n" },
    });
    // The store now has those changes, plus one made elsewhere: the shell sees it, and reports nothing.
    const second = await exec("cat /mnt/memory/notes/elsewhere.md", {
      sessionId: "sess_rw",
      mounts: mount([
        { path: "keep.md", content: "keep\nmore\n" },
        { path: "new.md", content: "new\n" },
        { path: "d/with space.md", content: "x\n" },
        { path: "elsewhere.md", content: "written by another session\n" },
      ]),
    });
    expect(second).toMatchObject({ output: "written by another session", exitCode: 0, mountChanges: [] });
  });

  it("cannot reach the host's loopback, directly or through the proxy", async () => {
    const direct = await exec(`(exec 5<>/dev/tcp/127.0.0.1/${port}) && echo connected || echo refused`);
    expect(direct.output).toContain("refused");
    for (const target of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `127.1:${port}`]) {
      expect((await exec(viaProxy("CONNECT", target))).output).toMatch(/^status: HTTP\/1\.1 403/m);
      expect((await exec(viaProxy("GET", target))).output).toMatch(/^status: HTTP\/1\.1 403/m);
    }
    expect(hits).toBe(0);
  });

  it("limited networking refuses a host that is not allowed", async () => {
    const limited: SandboxNetwork = {
      type: "limited",
      allowedHosts: ["api.example.com"],
      allowPackageManagers: true,
    };
    for (const target of [`127.0.0.1:${port}`, "not-allowed.example.com:443"]) {
      const result = await exec(viaProxy("CONNECT", target), { sessionId: "sess_limited", network: limited });
      expect(result.output).toMatch(/^status: HTTP\/1\.1 403/m);
    }
    expect(hits).toBe(0);
  });
});
