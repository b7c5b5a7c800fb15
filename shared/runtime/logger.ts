/** The Powertools logger behind the Logger port, at the configured level. */
import { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import type { Logger } from "../core/ports.js";
import type { Config } from "./config.js";

export function createLogger(config: Pick<Config, "REVERIE_LOG_LEVEL">, serviceName = "reverie"): Logger {
  const logger = new PowertoolsLogger({ serviceName, logLevel: config.REVERIE_LOG_LEVEL });
  return {
    info: (message, attributes) => logger.info(message, attributes ?? {}),
    warn: (message, attributes) => logger.warn(message, attributes ?? {}),
    error: (message, attributes) => logger.error(message, attributes ?? {}),
  };
}
