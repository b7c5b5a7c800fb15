/**
 * The workspace-level resources of the API, served by the `api-workspace` function: files, skills,
 * vaults and credentials, webhooks, deployments and their runs.
 */
import type { ApiRoutes } from "./api.js";
import { addDeploymentRoutes } from "./deployments-routes.js";
import { addFileRoutes } from "./files-routes.js";
import { addSkillRoutes } from "./skills-routes.js";
import { addVaultRoutes } from "./vaults-routes.js";
import { addWebhookRoutes } from "./webhooks-routes.js";

export const workspaceApiRoutes: readonly ApiRoutes[] = [
  (router, s) => s.files && addFileRoutes(router, s.files.service, s.files),
  (router, s) => s.skills && addSkillRoutes(router, s.skills.service, s.skills),
  (router, s) => s.deployments && addDeploymentRoutes(router, s.deployments),
  (router, s) => s.webhooks && addWebhookRoutes(router, s.webhooks),
  (router, s) => s.vaults && addVaultRoutes(router, s.vaults),
];
