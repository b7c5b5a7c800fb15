/**
 * LambdaShellSandbox with aws-sdk-client-mock: what agent-step sends the sandbox function (and what it
 * never sends), how the answer and its failures map onto the ShellSandbox port, and how the changes
 * object and shell state come back into S3. The presigner is a fake shaped like SigV4 query signing.
 */
import { gzipSync } from "node:zlib";
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from "@aws-sdk/client-lambda";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import {
  LambdaShellSandbox,
  type LambdaShellSandboxOptions,
  type PresignS3,
  SandboxExecError,
  SandboxUnavailableError,
} from "../../shared/adapters/aws/lambda-shell-sandbox.js";
import {
  downloadUrl,
  encodeWorkspaceChanges,
  SANDBOX_PROTOCOL_VERSION,
  type SandboxInvocation,
  type SandboxInvocationResult,
} from "../../shared/adapters/aws/sandbox-protocol.js";
import type { SandboxExecRequest } from "../../shared/core/ports.js";

const lambda = mockClient(LambdaClient);
const s3 = mockClient(S3Client);

const CREDENTIALS = {
  accessKeyId: "ASIAEXAMPLEKEYID",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  sessionToken: "FwoGZXIvYXdzEXAMPLESESSIONTOKEN",
};

const presigned: Array<Parameters<PresignS3>[0]> = [];
/** Shaped like getSignedUrl's output: shared SigV4 parameters plus a per-object signature. */
const fakePresign: PresignS3 = async (request) => {
  presigned.push(request);
  const date = request.signingDate.toISOString().replace(/[-:]|\.\d{3}/g, "");
  const query = [
    "X-Amz-Algorithm=AWS4-HMAC-SHA256",
    "X-Amz-Content-Sha256=UNSIGNED-PAYLOAD",
    `X-Amz-Credential=${CREDENTIALS.accessKeyId}%2F20261202%2Fus-east-1%2Fs3%2Faws4_request`,
    `X-Amz-Date=${date}`,
    `X-Amz-Expires=${request.expiresIn}`,
    `X-Amz-Security-Token=${CREDENTIALS.sessionToken}`,
    `X-Amz-Signature=sig-${request.method}-${request.key.length}-${request.key.replace(/\W/g, "")}`,
    "X-Amz-SignedHeaders=host",
    `x-id=${request.method === "GET" ? "GetObject" : "PutObject"}`,
  ];
  return `https://${request.bucket}.s3.us-east-1.amazonaws.com/${request.key}?${query.join("&")}`;
};

function sandbox(overrides: Partial<LambdaShellSandboxOptions> = {}): LambdaShellSandbox {
  return new LambdaShellSandbox({
    lambda: new LambdaClient({ region: "us-east-1", credentials: CREDENTIALS }),
    s3: new S3Client({ region: "us-east-1", credentials: CREDENTIALS }),
    presign: fakePresign,
    bucket: "bkt",
    prefix: "rv/",
    functionName: "sandbox-open",
    maxTimeoutMs: 240_000,
    ...overrides,
  });
}

const unrestricted = { type: "unrestricted" } as const;

function execRequest(overrides: Partial<SandboxExecRequest> = {}): SandboxExecRequest {
  return {
    sessionId: "sesn_1",
    workspaceId: "sesn_1",
    command: "ls",
    mounts: [],
    network: unrestricted,
    ...overrides,
  };
}

function answer(result: Partial<SandboxInvocationResult> = {}): Partial<InvokeCommandOutput> {
  const body: SandboxInvocationResult = {
    v: SANDBOX_PROTOCOL_VERSION,
    output: "ok\n",
    exitCode: 0,
    timedOut: false,
    changesUploaded: false,
    mountChanges: [],
    ...result,
  };
  return { StatusCode: 200, Payload: bytes(JSON.stringify(body)) };
}

const bytes = (text: string) => new TextEncoder().encode(text) as unknown as InvokeCommandOutput["Payload"];

function sentInvocation(): SandboxInvocation {
  const call = lambda.commandCalls(InvokeCommand)[0];
  if (!call) throw new Error("not invoked");
  return JSON.parse(new TextDecoder().decode(call.args[0].input.Payload as Uint8Array)) as SandboxInvocation;
}

function objectBody(data: Uint8Array | string): GetObjectCommandOutput["Body"] {
  const raw = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return {
    transformToByteArray: async () => raw,
    transformToString: async () => new TextDecoder().decode(raw),
  } as unknown as GetObjectCommandOutput["Body"];
}

beforeEach(() => {
  lambda.reset();
  s3.reset();
  presigned.length = 0;
  s3.on(ListObjectsV2Command).resolves({ Contents: [] });
  s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: "none", $metadata: {} }));
  s3.on(PutObjectCommand).resolves({});
  s3.on(DeleteObjectCommand).resolves({});
  lambda.on(InvokeCommand).resolves(answer());
});

describe("availability", () => {
  it("is available once a function and the bucket are configured", async () => {
    expect(await sandbox().availability()).toEqual({ available: true });
    expect(await sandbox({ functionName: undefined, isolatedFunctionName: "iso" }).availability()).toEqual({
      available: true,
    });
  });

  it("says why not otherwise, and exec refuses with that reason", async () => {
    const none = sandbox({ functionName: undefined });
    expect(await none.availability()).toEqual({
      available: false,
      reason: expect.stringContaining("REVERIE_SANDBOX_FUNCTION_NAME"),
    });
    expect(await sandbox({ bucket: undefined }).availability()).toMatchObject({ available: false });
    await expect(none.exec(execRequest())).rejects.toBeInstanceOf(SandboxUnavailableError);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });
});

describe("exec: what goes to the sandbox function", () => {
  beforeEach(() => {
    s3.on(ListObjectsV2Command, {
      Bucket: "bkt",
      Prefix: "rv/workspaces/sesn_1/",
      ContinuationToken: undefined,
    }).resolves({
      IsTruncated: true,
      NextContinuationToken: "p2",
      Contents: [
        { Key: "rv/workspaces/sesn_1/a.txt", Size: 3 },
        { Key: "rv/workspaces/sesn_1/src/main.ts", Size: 10 },
      ],
    });
    s3.on(ListObjectsV2Command, {
      Bucket: "bkt",
      Prefix: "rv/workspaces/sesn_1/",
      ContinuationToken: "p2",
    }).resolves({
      Contents: [{ Key: "rv/workspaces/sesn_1/b.bin", Size: 5 }],
    });
    s3.on(GetObjectCommand, { Bucket: "bkt", Key: "rv/sandbox-state/sesn_1.sh" }).resolves({
      Body: objectBody('__rv_cwd=/workspace/src\ndeclare -x A="1"\n'),
    });
  });

  it("invokes the open function synchronously with the command, workspace URLs, mounts and saved state", async () => {
    const result = await sandbox().exec(
      execRequest({
        command: "cat a.txt",
        timeoutMs: 30_000,
        mounts: [{ path: "/mnt/memory/notes", readOnly: true, files: [{ path: "n.md", content: "hi" }] }],
      }),
    );
    expect(result).toEqual({ output: "ok\n", exitCode: 0, timedOut: false, mountChanges: [] });
    const input = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ FunctionName: "sandbox-open", InvocationType: "RequestResponse" });
    const sent = sentInvocation();
    expect(sent).toMatchObject({
      v: SANDBOX_PROTOCOL_VERSION,
      command: "cat a.txt",
      restart: false,
      timeoutMs: 30_000,
      shellState: '__rv_cwd=/workspace/src\ndeclare -x A="1"\n',
      mounts: [{ path: "/mnt/memory/notes", readOnly: true, files: [{ path: "n.md", content: "hi" }] }],
    });
    expect(sent.workspace.files.map((f) => [f.path, f.size])).toEqual([
      ["a.txt", 3],
      ["src/main.ts", 10],
      ["b.bin", 5],
    ]);
    const gets = presigned.filter((p) => p.method === "GET");
    expect(gets.map((p) => p.key)).toEqual([
      "rv/workspaces/sesn_1/a.txt",
      "rv/workspaces/sesn_1/src/main.ts",
      "rv/workspaces/sesn_1/b.bin",
    ]);
    expect(new Set(presigned.map((p) => p.signingDate.getTime())).size).toBe(1);
    // Each file's URL, rebuilt with the shared query, has exactly the presigner's parameters (SigV4 sorts
    // them before verifying, so their order does not matter).
    const normalized = (url: string) => {
      const [base, query = ""] = url.split("?");
      return `${base}?${query.split("&").sort().join("&")}`;
    };
    const rebuilt = sent.workspace.files.map((f) => normalized(downloadUrl(f, sent.workspace.sharedQuery)));
    expect(rebuilt).toEqual((await Promise.all(gets.map((p) => fakePresign(p)))).map(normalized));
    // The shared SigV4 parameters travel once, not once per file.
    expect(sent.workspace.sharedQuery).toContain("X-Amz-Credential=");
    for (const f of sent.workspace.files) expect(f.url).not.toContain("X-Amz-Credential");
    // One presigned PUT, for a transfer object of this session, valid for the command plus a margin.
    const put = presigned.find((p) => p.method === "PUT");
    expect(put?.key).toMatch(/^rv\/sandbox-transfer\/sesn_1\/[0-9a-f-]{36}\.gz$/);
    expect(put?.expiresIn).toBe(30 + 300);
    expect(sent.changesUrl).toContain(`/${put?.key}?`);
  });

  it("puts no credential in the payload: no secret key, no environment, nothing but presigned URLs", async () => {
    process.env.ANTHROPIC_API_KEY = "sk-ant-must-not-leak";
    try {
      await sandbox().exec(execRequest());
    } finally {
      delete process.env.ANTHROPIC_API_KEY;
    }
    const raw = new TextDecoder().decode(
      lambda.commandCalls(InvokeCommand)[0]?.args[0].input.Payload as Uint8Array,
    );
    expect(raw).not.toContain(CREDENTIALS.secretAccessKey);
    expect(raw).not.toContain("sk-ant-must-not-leak");
    expect(raw).not.toMatch(/secretAccessKey|SecretAccessKey|AWS_SECRET|AWS_SESSION_TOKEN/);
    // The security token appears only inside the presigned URLs' query (useless without the secret key).
    const sent = JSON.parse(raw) as SandboxInvocation;
    const withoutUrls = JSON.stringify({ ...sent, workspace: { files: [] }, changesUrl: "" });
    expect(withoutUrls).not.toContain(CREDENTIALS.sessionToken);
    expect(withoutUrls).not.toContain(CREDENTIALS.accessKeyId);
    expect(Object.keys(sent).sort()).toEqual(
      [
        "changesUrl",
        "command",
        "limits",
        "mounts",
        "restart",
        "shellState",
        "timeoutMs",
        "v",
        "workspace",
      ].sort(),
    );
  });

  it("clamps the timeout to the configured maximum and uses the default when none is asked", async () => {
    await sandbox({ maxTimeoutMs: 60_000 }).exec(execRequest({ timeoutMs: 3_600_000 }));
    expect(sentInvocation().timeoutMs).toBe(60_000);
    lambda.resetHistory();
    await sandbox({ defaultTimeoutMs: 45_000 }).exec(execRequest());
    expect(sentInvocation().timeoutMs).toBe(45_000);
  });

  it("restart: deletes the saved state and sends none", async () => {
    await sandbox().exec(execRequest({ restart: true }));
    expect(s3.commandCalls(DeleteObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: "bkt",
      Key: "rv/sandbox-state/sesn_1.sh",
    });
    expect(sentInvocation()).toMatchObject({ restart: true });
    expect(sentInvocation().shellState).toBeUndefined();
  });

  it("refuses a workspace too large for one call before invoking", async () => {
    await expect(sandbox({ maxWorkspaceFiles: 2 }).exec(execRequest())).rejects.toThrow(/too large/);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });
});

describe("exec: what comes back", () => {
  it("applies the changes object to the workspace, deletes it, and saves the shell state", async () => {
    lambda.on(InvokeCommand).callsFake((input: { Payload: Uint8Array }) => {
      const sent = JSON.parse(new TextDecoder().decode(input.Payload)) as SandboxInvocation;
      const key = new URL(sent.changesUrl).pathname.slice(1);
      s3.on(GetObjectCommand, { Bucket: "bkt", Key: key }).resolves({
        Body: objectBody(
          gzipSync(
            encodeWorkspaceChanges({
              written: [
                { path: "out/report.md", data: new TextEncoder().encode("# done\n") },
                { path: "img.bin", data: new Uint8Array([0xff, 0xfe, 0x00]) },
              ],
              deleted: ["old.txt"],
            }),
          ),
        ),
      });
      return answer({ changesUploaded: true, shellState: "__rv_cwd=/workspace\n" });
    });
    await sandbox().exec(execRequest());
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Key: "rv/workspaces/sesn_1/out/report.md",
          ContentType: "text/plain; charset=utf-8",
        }),
        expect.objectContaining({
          Key: "rv/workspaces/sesn_1/img.bin",
          ContentType: "application/octet-stream",
        }),
        expect.objectContaining({ Key: "rv/sandbox-state/sesn_1.sh", Body: "__rv_cwd=/workspace\n" }),
      ]),
    );
    const deleted = s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input.Key);
    expect(deleted).toContain("rv/workspaces/sesn_1/old.txt");
    expect(deleted.some((k) => k?.startsWith("rv/sandbox-transfer/sesn_1/"))).toBe(true);
  });

  it("rejects a changes object that escapes the workspace, and writes nothing", async () => {
    const evil = new TextEncoder().encode(
      `${JSON.stringify({ written: [{ path: "../x", size: 1 }], deleted: [] })}\nx`,
    );
    s3.on(GetObjectCommand).resolves({ Body: objectBody(gzipSync(evil)) });
    lambda.on(InvokeCommand).resolves(answer({ changesUploaded: true }));
    await expect(sandbox().exec(execRequest())).rejects.toThrow(
      /workspace changes were malformed: .*unsafe path/,
    );
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it("reports mount changes of this request's writable mounts only", async () => {
    lambda.on(InvokeCommand).resolves(
      answer({
        mountChanges: [
          { mountPath: "/mnt/memory/rw", path: "a.md", content: "new" },
          { mountPath: "/mnt/memory/rw", path: "gone.md", content: null },
          { mountPath: "/mnt/memory/ro", path: "a.md", content: "forged" },
          { mountPath: "/mnt/memory/other", path: "a.md", content: "forged" },
          { mountPath: "/mnt/memory/rw", path: "../escape.md", content: "forged" },
        ],
      }),
    );
    const result = await sandbox().exec(
      execRequest({
        mounts: [
          { path: "/mnt/memory/rw", readOnly: false, files: [] },
          { path: "/mnt/memory/ro", readOnly: true, files: [] },
        ],
      }),
    );
    expect(result.mountChanges).toEqual([
      { mountPath: "/mnt/memory/rw", path: "a.md", content: "new" },
      { mountPath: "/mnt/memory/rw", path: "gone.md", content: null },
    ]);
  });

  it("passes the command's own timeout through, and a timeout restarts the shell", async () => {
    lambda.on(InvokeCommand).resolves(answer({ output: "start\n", exitCode: null, timedOut: true }));
    expect(await sandbox().exec(execRequest())).toEqual({
      output: "start\n",
      exitCode: null,
      timedOut: true,
      mountChanges: [],
    });
    expect(s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      "rv/sandbox-state/sesn_1.sh",
    ]);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});

describe("exec: failures", () => {
  it("maps the function timing out to a timed-out result whose changes are lost", async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: "Unhandled",
      Payload: bytes(
        JSON.stringify({
          errorType: "Sandbox.Timedout",
          errorMessage: "RequestId: r Error: Task timed out after 300.00 seconds",
        }),
      ),
    });
    const result = await sandbox().exec(execRequest());
    expect(result).toMatchObject({ exitCode: null, timedOut: true, mountChanges: [] });
    expect(result.output).toContain("not saved");
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(DeleteObjectCommand)[0]?.args[0].input.Key).toBe("rv/sandbox-state/sesn_1.sh");
  });

  it("turns a function error into a SandboxExecError naming it", async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: "Unhandled",
      Payload: bytes(
        JSON.stringify({ errorType: "Runtime.ExitError", errorMessage: "exited with status 1" }),
      ),
    });
    const failure = sandbox().exec(execRequest());
    await expect(failure).rejects.toBeInstanceOf(SandboxExecError);
    await expect(failure).rejects.toThrow("the sandbox failed: Runtime.ExitError: exited with status 1");
  });

  it("says the sandbox is busy when Lambda throttles, and names other invoke errors", async () => {
    lambda
      .on(InvokeCommand)
      .rejects(Object.assign(new Error("Rate exceeded"), { name: "TooManyRequestsException" }));
    await expect(sandbox().exec(execRequest())).rejects.toThrow(/busy/);
    lambda
      .on(InvokeCommand)
      .rejects(Object.assign(new Error("Function not found"), { name: "ResourceNotFoundException" }));
    await expect(sandbox().exec(execRequest())).rejects.toThrow(
      /ResourceNotFoundException: Function not found/,
    );
  });

  it("rejects an answer it does not understand", async () => {
    lambda
      .on(InvokeCommand)
      .resolves({ StatusCode: 200, Payload: bytes(JSON.stringify({ v: 1, output: 42 })) });
    await expect(sandbox().exec(execRequest())).rejects.toThrow(/not understood/);
  });
});

describe("networking", () => {
  const limited = (allowedHosts: string[], allowPackageManagers = false) =>
    ({ type: "limited", allowedHosts, allowPackageManagers }) as const;

  it("runs limited-with-no-hosts on the no-egress function", async () => {
    await sandbox({ isolatedFunctionName: "sandbox-isolated" }).exec(execRequest({ network: limited([]) }));
    expect(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.FunctionName).toBe("sandbox-isolated");
  });

  it.each([
    [
      "allowed hosts",
      limited(["api.example.com"]),
      { isolatedFunctionName: "iso" },
      /cannot enforce a host allowlist/,
    ],
    ["package managers", limited([], true), { isolatedFunctionName: "iso" }, /package managers/],
    ["no isolated function", limited([]), {}, /no-egress sandbox function/],
    [
      "unrestricted without the open function",
      unrestricted,
      { functionName: undefined, isolatedFunctionName: "iso" },
      /open sandbox function/,
    ],
  ] as const)("fails closed: %s", async (_name, network, overrides, message) => {
    const failure = sandbox(overrides).exec(execRequest({ network }));
    await expect(failure).rejects.toBeInstanceOf(SandboxUnavailableError);
    await expect(failure).rejects.toThrow(message);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });
});

describe("restart and close", () => {
  it("restart without a command only forgets the shell state", async () => {
    const result = await sandbox().exec(execRequest({ command: undefined, restart: true }));
    expect(result).toEqual({ output: "", exitCode: 0, timedOut: false, mountChanges: [] });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(s3.commandCalls(DeleteObjectCommand)[0]?.args[0].input.Key).toBe("rv/sandbox-state/sesn_1.sh");
  });

  it("close deletes the session's shell state", async () => {
    await sandbox().close("sesn_9");
    expect(s3.commandCalls(DeleteObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: "bkt",
      Key: "rv/sandbox-state/sesn_9.sh",
    });
  });

  it("rejects ids that would leave their prefix", async () => {
    await expect(sandbox().exec(execRequest({ sessionId: "a/../b" }))).rejects.toThrow(/invalid session id/);
    await expect(sandbox().exec(execRequest({ workspaceId: "../x" }))).rejects.toThrow(
      /invalid workspace id/,
    );
  });
});

describe("mount validation", () => {
  it("refuses mounts inside /workspace or with unsafe file paths, before invoking", async () => {
    await expect(
      sandbox().exec(execRequest({ mounts: [{ path: "/workspace/mem", readOnly: true, files: [] }] })),
    ).rejects.toThrow(/cannot mount at/);
    await expect(
      sandbox().exec(
        execRequest({ mounts: [{ path: "/mnt/m", readOnly: true, files: [{ path: "../x", content: "" }] }] }),
      ),
    ).rejects.toThrow(/cannot mount file/);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });
});
