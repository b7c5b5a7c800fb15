/**
 * /v1/organizations/webhooks as the SDK calls them (`client.beta.organization.webhooks`), plus the
 * delivery extensions (README "Webhooks"): `GET …/{id}/deliveries` and
 * `POST …/{id}/deliveries/{event_id}/replay`.
 */

import { parseBody } from "../../contract/validation.js";
import {
  WebhookCreateSchema,
  WebhookDeliveryListQuerySchema,
  WebhookListQuerySchema,
  WebhookUpdateSchema,
} from "../../contract/webhooks.js";
import type { WebhooksService } from "../../core/webhooks/webhooks-service.js";
import { json, jsonBody, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
import type { Router } from "./router.js";

const base = "/v1/organizations/webhooks";

export function addWebhookRoutes(router: Router, webhooks: WebhooksService): Router {
  return router
    .add("POST", base, async (r) =>
      json(await webhooks.create(ws(r), parseBody(WebhookCreateSchema, jsonBody(r)))),
    )
    .add("GET", base, async (r) =>
      json(await webhooks.list(ws(r), parseListQuery(WebhookListQuerySchema, r) as never)),
    )
    .add("GET", `${base}/{id}`, async (r, p) => json(await webhooks.retrieve(ws(r), p.id as string)))
    .add("POST", `${base}/{id}`, async (r, p) =>
      json(await webhooks.update(ws(r), p.id as string, parseBody(WebhookUpdateSchema, jsonBody(r)))),
    )
    .add("DELETE", `${base}/{id}`, async (r, p) => json(await webhooks.delete(ws(r), p.id as string)))
    .add("POST", `${base}/{id}/regenerate_signing_secret`, async (r, p) =>
      json(await webhooks.regenerateSigningSecret(ws(r), p.id as string)),
    )
    .add("GET", `${base}/{id}/deliveries`, async (r, p) =>
      json(
        await webhooks.deliveries(
          ws(r),
          p.id as string,
          parseListQuery(WebhookDeliveryListQuerySchema, r) as never,
        ),
      ),
    )
    .add("POST", `${base}/{id}/deliveries/{event_id}/replay`, async (r, p) =>
      json(await webhooks.replay(ws(r), p.id as string, p.event_id as string)),
    );
}
