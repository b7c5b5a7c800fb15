/** The step loop's plug-in interface (defined with StepDeps, which it takes and which lists it). */
export type { ExtensionTool, IdleHandoff, MountContext, RunExtension } from "./step-deps.js";
