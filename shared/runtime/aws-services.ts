/** The whole composition root (container.ts) on the AWS adapters (aws-ports.ts), for every entry but the grader. */
import { awsPorts, type ExtraPorts, forgetting } from "./aws-ports.js";
import { buildServices, type Services } from "./container.js";

let services: Promise<Services> | undefined;

/**
 * The services of this Lambda container, built on first use. `extra` adds ports only some entries
 * need (e.g. `withDreams`), so the other bundles do not carry them.
 */
export function awsServices(extra?: ExtraPorts): Promise<Services> {
  services ??= awsPorts(extra)
    .then(({ config, ports }) => buildServices(config, ports))
    .catch(forgetting(() => (services = undefined)));
  return services;
}
