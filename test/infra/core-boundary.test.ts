/** The lint rule that keeps shared/core pure (DESIGN.md §3–4) really fires, and only there. */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const repo = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "reverie-lint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lint(path: string, source: string): string {
  mkdirSync(join(dir, path, ".."), { recursive: true });
  writeFileSync(join(dir, path), source);
  copyFileSync(join(repo, "biome.json"), join(dir, "biome.json"));
  try {
    execFileSync(join(repo, "node_modules/.bin/biome"), ["lint", "--vcs-enabled=false", path], {
      cwd: dir,
      stdio: "pipe",
    });
    return "";
  } catch (error) {
    return (
      String((error as { stdout?: Buffer }).stdout ?? "") +
      String((error as { stderr?: Buffer }).stderr ?? "")
    );
  }
}

const impure =
  'import { DynamoDB } from "@aws-sdk/client-dynamodb";\nexport const table = process.env.TABLE;\nexport const client = DynamoDB;\n';

describe("shared/core import boundary", () => {
  it("rejects AWS SDK imports and process.env in shared/core", () => {
    const output = lint("shared/core/sessions/leak.ts", impure);
    expect(output).toContain("noRestrictedImports");
    expect(output).toContain("noProcessEnv");
  });

  it("allows them in adapters", () => {
    expect(lint("shared/adapters/aws/fine.ts", impure)).not.toMatch(/noRestrictedImports|noProcessEnv/);
  });
});
