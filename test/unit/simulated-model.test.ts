import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import {
  parseInstructions,
  SIMULATED_PREFIX,
  SimulatedModel,
} from "../../shared/adapters/model/simulated-model.js";
import type { ModelRequest, ModelResponse } from "../../shared/core/ports.js";

type MessageParam = Anthropic.Messages.MessageParam;
type Tool = Anthropic.Messages.Tool;

const tool = (name: string): Tool => ({
  name,
  description: `the ${name} tool`,
  input_schema: { type: "object" },
});
const TOOLSET = ["read", "write", "edit", "glob", "grep", "web_fetch"].map(tool);

function request(messages: MessageParam[] | string, tools: Tool[] = TOOLSET): ModelRequest {
  return {
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    system: "You are a helpful agent.",
    tools,
    messages: typeof messages === "string" ? [{ role: "user", content: messages }] : messages,
  };
}

function toolUses(response: ModelResponse) {
  return response.content.flatMap((b) => (b.type === "tool_use" ? [b] : []));
}

function replyText(response: ModelResponse): string {
  return response.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("\n");
}

/** Drives the model like the step loop does, against an in-memory workspace, until end_turn. */
async function runTurn(instruction: string, files: Map<string, string> = new Map(), tools = TOOLSET) {
  const model = new SimulatedModel();
  const messages: MessageParam[] = [{ role: "user", content: instruction }];
  const responses: ModelResponse[] = [];
  for (let i = 0; i < 10; i++) {
    const response = await model.createMessage(request(messages, tools));
    responses.push(response);
    messages.push({ role: "assistant", content: response.content });
    if (response.stop_reason === "end_turn") return { responses, files, messages };
    messages.push({
      role: "user",
      content: toolUses(response).map((use) => {
        const input = use.input as Record<string, string>;
        if (use.name === "write") files.set(input.file_path as string, input.content as string);
        const content = use.name === "read" ? files.get(input.file_path as string) : "ok";
        return {
          type: "tool_result",
          tool_use_id: use.id,
          content: content ?? "no such file",
          is_error: content === undefined,
        };
      }),
    });
  }
  throw new Error("the simulated model never ended its turn");
}

describe("SimulatedModel", () => {
  const model = new SimulatedModel();

  it("is named simulated", () => {
    expect(model.name).toBe("simulated");
  });

  it.each([
    ['write "hello" to notes.txt', { file_path: "notes.txt", content: "hello" }],
    ["create a file notes.txt containing hello", { file_path: "notes.txt", content: "hello" }],
    [
      'Create a new file called plan.md with the content "a; b. then c"',
      { file_path: "plan.md", content: "a; b. then c" },
    ],
  ])("turns %j into a write tool_use", async (instruction, input) => {
    const response = await model.createMessage(request(instruction));
    expect(response.stop_reason).toBe("tool_use");
    expect(toolUses(response)).toEqual([
      {
        type: "tool_use",
        id: expect.stringMatching(/^toolu_sim_/),
        name: "write",
        input,
        caller: { type: "direct" },
      },
    ]);
    expect(replyText(response)).toContain(SIMULATED_PREFIX);
  });

  it("reads a file and ends the turn with what it read", async () => {
    const first = await model.createMessage(request("read notes.txt"));
    const [use] = toolUses(first);
    expect(use).toMatchObject({ name: "read", input: { file_path: "notes.txt" } });
    const second = await model.createMessage(
      request([
        { role: "user", content: "read notes.txt" },
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: use?.id ?? "", content: "hello from the file" }],
        },
      ]),
    );
    expect(second.stop_reason).toBe("end_turn");
    expect(toolUses(second)).toEqual([]);
    expect(replyText(second)).toMatch(/^\[simulated model\] Done\./);
    expect(replyText(second)).toContain("read notes.txt returned: hello from the file");
  });

  it.each([
    ["list files", "glob", { pattern: "**/*" }],
    ["list all files in docs/", "glob", { pattern: "docs/**/*" }],
    ["glob **/*.md", "glob", { pattern: "**/*.md" }],
    ["search for TODO", "grep", { pattern: "TODO" }],
    ['grep "foo bar" in src', "grep", { pattern: "foo bar", path: "src" }],
    [
      'in notes.txt, replace "hello" with "bye"',
      "edit",
      { file_path: "notes.txt", old_string: "hello", new_string: "bye" },
    ],
    ["fetch https://example.com/page", "web_fetch", { url: "https://example.com/page" }],
  ])("turns %j into a %s tool_use", async (instruction, name, input) => {
    const response = await model.createMessage(request(instruction));
    expect(toolUses(response)).toMatchObject([{ name, input }]);
  });

  it("calls a custom tool with the given JSON input", async () => {
    const tools = [...TOOLSET, tool("lookup_weather")];
    const response = await model.createMessage(
      request('call lookup_weather with {"city": "Paris; then Lyon", "days": [1, 2]}', tools),
    );
    expect(toolUses(response)).toMatchObject([
      { name: "lookup_weather", input: { city: "Paris; then Lyon", days: [1, 2] } },
    ]);
  });

  it("uses the offered spelling of a tool name", async () => {
    const response = await model.createMessage(request("read a.txt", [tool("Read")]));
    expect(toolUses(response)).toMatchObject([{ name: "Read" }]);
  });

  it("runs several instructions one tool call per turn, in order", async () => {
    const { responses, files } = await runTurn("write alpha to x.txt then read x.txt, and search for alpha");
    expect(responses.map((r) => toolUses(r).map((u) => u.name))).toEqual([["write"], ["read"], ["grep"], []]);
    expect(files.get("x.txt")).toBe("alpha");
    const summary = replyText(responses.at(-1) as ModelResponse);
    expect(summary).toContain("write x.txt returned: ok");
    expect(summary).toContain("read x.txt returned: alpha");
    expect(summary).toContain("grep alpha");
  });

  it("starts over for the next user message", async () => {
    const { messages } = await runTurn('write "1" to a.txt');
    messages.push({ role: "user", content: "read a.txt" });
    const response = await model.createMessage(request(messages));
    expect(toolUses(response)).toMatchObject([{ name: "read", input: { file_path: "a.txt" } }]);
  });

  it("says so when an instruction needs a tool that is not offered", async () => {
    const response = await model.createMessage(request("fetch https://example.com", [tool("read")]));
    expect(response.stop_reason).toBe("end_turn");
    expect(replyText(response)).toContain("Not available here: web_fetch");
  });

  it("acknowledges a message with no instruction it recognises", async () => {
    const response = await model.createMessage(request("hello there, how are you?"));
    expect(response.stop_reason).toBe("end_turn");
    expect(toolUses(response)).toEqual([]);
    expect(replyText(response)).toMatch(/^\[simulated model\] Received: "hello there, how are you\?"/);
    expect(replyText(response)).toContain("offline stand-in");
  });

  it("is deterministic: the same request gives the same response", async () => {
    const a = await model.createMessage(request('write "hello" to notes.txt'));
    const b = await new SimulatedModel().createMessage(request('write "hello" to notes.txt'));
    expect(b).toEqual(a);
    expect(a.id).toMatch(/^msg_sim_[0-9a-f]{24}$/);
    const c = await model.createMessage(request('write "hello" to other.txt'));
    expect(c.id).not.toBe(a.id);
    expect(toolUses(c)[0]?.id).not.toBe(toolUses(a)[0]?.id);
  });

  it("reports usage as ceil(characters / 4) of input and output", async () => {
    const req = request("list files");
    const response = await model.createMessage(req);
    const input = JSON.stringify({ system: req.system, messages: req.messages, tools: req.tools });
    expect(response.usage.input_tokens).toBe(Math.ceil(input.length / 4));
    expect(response.usage.output_tokens).toBe(Math.ceil(JSON.stringify(response.content).length / 4));
    expect(response.usage.output_tokens).toBeGreaterThan(0);
    expect(response.model).toBe(req.model);
    expect(response).toMatchObject({ type: "message", role: "assistant", stop_sequence: null });
  });
});

describe("parseInstructions", () => {
  it.each([
    ["make a cake", []],
    ["touch empty.txt", [{ name: "write", input: { file_path: "empty.txt", content: "" } }]],
    ["what's in notes.txt?", [{ name: "read", input: { file_path: "notes.txt" } }]],
    [
      'replace "a with b" with "c" in f.txt',
      [{ name: "edit", input: { file_path: "f.txt", old_string: "a with b", new_string: "c" } }],
    ],
    ["call deploy", [{ name: "deploy", input: {} }]],
    ["call broken with {not json}", []],
    [
      '1. write "x" to a.md\n2. read a.md',
      [
        { name: "write", input: { file_path: "a.md", content: "x" } },
        { name: "read", input: { file_path: "a.md" } },
      ],
    ],
  ])("parses %j", (text, calls) => {
    expect(parseInstructions(text)).toEqual(calls);
  });
});
