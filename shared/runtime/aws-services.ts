/** The whole composition root (container.ts) on the AWS adapters (aws-ports.ts), for every entry but the grader. */
import { awsPorts, builtOnce, type ExtraPorts } from "./aws-ports.js";
import { buildServices, type Services } from "./container.js";

/**
 * The services of this Lambda container. `extra` adds ports only some entries need (e.g.
 * `withDreams`), so the other bundles do not carry them.
 */
export const awsServices = builtOnce(async (extra?: ExtraPorts): Promise<Services> => {
  const { config, ports } = await awsPorts(extra);
  return buildServices(config, ports);
});
