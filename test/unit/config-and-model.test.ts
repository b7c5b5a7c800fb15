import { describe, expect, it } from "vitest";
import { SimulatedModel } from "../../shared/adapters/model/simulated-model.js";
import { ConfigError, loadConfig } from "../../shared/runtime/config.js";
import { createModel } from "../../shared/runtime/model-provider.js";

describe("loadConfig", () => {
  it("defaults to the simulated model without a key and to anthropic with one", () => {
    expect(loadConfig({}).modelProvider).toBe("simulated");
    expect(loadConfig({ ANTHROPIC_API_KEY: "sk-x" }).modelProvider).toBe("anthropic");
    expect(loadConfig({ REVERIE_MODEL_PROVIDER: "bedrock" }).modelProvider).toBe("bedrock");
  });
  it("names the variable that is wrong", () => {
    expect(() => loadConfig({ PORT: "eighty" })).toThrow(/PORT/);
    expect(() => loadConfig({ REVERIE_MODEL_PROVIDER: "openai" })).toThrow(/REVERIE_MODEL_PROVIDER/);
    expect(() => loadConfig({ REVERIE_MODEL_PROVIDER: "anthropic" })).toThrow(ConfigError);
  });
});

describe("createModel", () => {
  it("builds the provider the configuration asks for", async () => {
    const simulated = () => new SimulatedModel();
    expect((await createModel(loadConfig({}), undefined, simulated)).name).toBe("simulated");
    // No simulated stand-in in a Lambda: asking for it there is a configuration error.
    await expect(createModel(loadConfig({}))).rejects.toThrow(/runs only on the embedded stack/);
    expect((await createModel(loadConfig({ ANTHROPIC_API_KEY: "sk-x" }))).name).toBe("anthropic");
    const bedrock = loadConfig({ REVERIE_MODEL_PROVIDER: "bedrock", AWS_REGION: "us-east-1" });
    expect((await createModel(bedrock)).name).toBe("bedrock");
  });
});
