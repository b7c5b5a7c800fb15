/**
 * /v1/organizations/webhooks (create → signing secret, retrieve, update, list, delete, regenerate the
 * secret), scoped to the caller's workspace, plus Reverie's delivery extensions: list an endpoint's
 * deliveries and replay one.
 */
import { randomBytes } from "node:crypto";
import type {
  BetaDeletedOrganizationWebhookEndpoint,
  BetaNewOrganizationWebhookEndpoint,
  BetaOrganizationWebhookEndpoint,
  BetaOrganizationWebhookEndpointSigningSecret,
} from "@anthropic-ai/sdk/resources/beta/organization/webhooks";
import { ConflictError, InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import {
  MAX_WEBHOOK_ENDPOINTS,
  type WebhookCreateBody,
  type WebhookDeliveryListQuery,
  type WebhookListQuery,
  type WebhookUpdateBody,
} from "../../contract/webhooks.js";
import {
  type Clock,
  ConditionFailedError,
  type DocumentStore,
  type IdGenerator,
  type MessageQueue,
  type SecretSealer,
} from "../ports.js";
import { enterPendingIndex, nudgeOf } from "./webhook-nudges.js";
import {
  type DeliveryRecord,
  deliveryKey,
  deliveryRecordSchema,
  type EndpointRecord,
  endpointKey,
  endpointRecordSchema,
  sealSigningSecret,
  type WebhookMessage,
} from "./webhook-records.js";

export const webhookEndpointIdPrefix = "whep";

/** A delivery as the extension endpoint lists it. */
export interface WebhookDeliveryView {
  type: "webhook_delivery";
  id: string;
  event_type: string;
  status: DeliveryRecord["status"];
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  payload: unknown;
}

export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export class WebhooksService {
  constructor(
    private readonly store: DocumentStore,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly queue: MessageQueue<WebhookMessage>,
    /** Seals each endpoint's signing secret: the record never holds it in clear. */
    private readonly sealer: SecretSealer,
    /** Refuses a URL the deliverer would never reach (SSRF guard); throws InvalidRequestError. */
    private readonly checkUrl: (url: string) => Promise<void> = async () => {},
  ) {}

  async create(workspaceId: string, body: WebhookCreateBody): Promise<BetaNewOrganizationWebhookEndpoint> {
    await this.checkUrl(body.url);
    const existing = await this.store.query("resources", endpointKey(workspaceId), {
      limit: MAX_WEBHOOK_ENDPOINTS + 1,
    });
    if (existing.length >= MAX_WEBHOOK_ENDPOINTS)
      throw new InvalidRequestError(
        `a workspace can have at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints`,
      );
    const now = new Date(this.clock.now()).toISOString();
    const id = this.ids.next(webhookEndpointIdPrefix);
    const secret = newSigningSecret();
    const record: EndpointRecord = {
      schemaVersion: 1,
      id,
      workspaceId,
      url: body.url,
      name: body.name ?? "",
      description: body.description ?? "",
      enabled_events: body.enabled_events,
      state: "enabled",
      disabled_reason: "",
      sealedSigningSecret: await sealSigningSecret(this.sealer, { workspaceId, id }, secret),
      created_at: now,
      updated_at: now,
      rev: 1,
    };
    await this.store.put(
      "resources",
      { pk: endpointKey(workspaceId), sk: record.id, ...record },
      { expectedRev: 0 },
    );
    return { ...present(record), signing_secret: secret };
  }

  async retrieve(workspaceId: string, id: string): Promise<BetaOrganizationWebhookEndpoint> {
    return present(await this.load(workspaceId, id));
  }

  async update(
    workspaceId: string,
    id: string,
    body: WebhookUpdateBody,
  ): Promise<BetaOrganizationWebhookEndpoint> {
    if (body.url) await this.checkUrl(body.url);
    // An endpoint stored before secrets were sealed has its secret sealed by its next update.
    const clear = (await this.load(workspaceId, id)).signingSecret;
    const sealed =
      clear === undefined ? undefined : await sealSigningSecret(this.sealer, { workspaceId, id }, clear);
    const updated = await this.change(workspaceId, id, ({ signingSecret, ...current }) => ({
      ...current,
      ...(signingSecret === undefined
        ? {}
        : signingSecret === clear && sealed !== undefined
          ? { sealedSigningSecret: sealed }
          : { signingSecret }),
      url: body.url ?? current.url,
      name: body.name ?? current.name,
      description: body.description ?? current.description,
      enabled_events: body.enabled_events ?? current.enabled_events,
      state: body.state ?? current.state,
      disabled_reason:
        (body.state ?? current.state) === "enabled" ? "" : current.disabled_reason || "disabled by user",
    }));
    return present(updated);
  }

  async list(
    workspaceId: string,
    query: WebhookListQuery,
  ): Promise<{
    data: BetaOrganizationWebhookEndpoint[];
    has_more: boolean;
    first_id: string | null;
    last_id: string | null;
  }> {
    const backwards = query.before_id !== undefined;
    const order = backwards ? (query.order === "asc" ? "desc" : "asc") : query.order;
    const cursor = query.after_id ?? query.before_id;
    const items = await this.store.query("resources", endpointKey(workspaceId), {
      order,
      limit: query.limit + 1,
      ...(cursor === undefined ? {} : order === "asc" ? { after: cursor } : { before: cursor }),
    });
    const page = items.slice(0, query.limit).map((i) => present(endpointRecordSchema.parse(i)));
    if (backwards) page.reverse();
    return {
      data: page,
      has_more: items.length > query.limit,
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
    };
  }

  async delete(workspaceId: string, id: string): Promise<BetaDeletedOrganizationWebhookEndpoint> {
    await this.load(workspaceId, id);
    await this.store.delete("resources", endpointKey(workspaceId), id);
    return { id, type: "webhook_endpoint_deleted" };
  }

  async regenerateSigningSecret(
    workspaceId: string,
    id: string,
  ): Promise<BetaOrganizationWebhookEndpointSigningSecret> {
    const secret = newSigningSecret();
    const sealed = await sealSigningSecret(this.sealer, { workspaceId, id }, secret);
    await this.change(workspaceId, id, ({ signingSecret: _clear, ...current }) => ({
      ...current,
      sealedSigningSecret: sealed,
    }));
    return { signing_secret: secret };
  }

  /** Extension: the endpoint's deliveries, newest first. */
  async deliveries(
    workspaceId: string,
    id: string,
    query: WebhookDeliveryListQuery,
  ): Promise<{
    data: WebhookDeliveryView[];
    has_more: boolean;
    first_id: string | null;
    last_id: string | null;
  }> {
    await this.load(workspaceId, id);
    const data: WebhookDeliveryView[] = [];
    let cursor = query.after_id;
    let more = true;
    while (data.length <= query.limit && more) {
      const batch = await this.store.query("resources", deliveryKey(id), {
        order: "desc",
        limit: 100,
        ...(cursor ? { before: cursor } : {}),
      });
      more = batch.length === 100;
      for (const item of batch) {
        cursor = String(item.sk);
        const d = deliveryRecordSchema.parse(item);
        if (!query.status || d.status === query.status) data.push(viewOf(d));
      }
    }
    const page = data.slice(0, query.limit);
    return {
      data: page,
      has_more: data.length > query.limit,
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
    };
  }

  /**
   * Extension: sends a delivery again (whatever its status), with the same webhook-id and body. An
   * attempt of the old generation may still be in flight: its lease stays, and the replay's nudge
   * waits for it to end rather than POST alongside.
   */
  async replay(workspaceId: string, id: string, eventId: string): Promise<WebhookDeliveryView> {
    await this.load(workspaceId, id);
    let indexed = false;
    for (;;) {
      const item = await this.store.get("resources", deliveryKey(id), eventId);
      if (!item) throw new NotFoundError("webhook delivery", eventId);
      const current = deliveryRecordSchema.parse(item);
      // Into the sweeper's index before the record turns pending, so a lost nudge is still found.
      if (!indexed) await enterPendingIndex({ store: this.store, clock: this.clock }, id, eventId);
      indexed = true;
      const next: DeliveryRecord = {
        ...current,
        status: "pending",
        attempts: 0,
        generation: current.generation + 1,
        nudgedAt: this.clock.now(),
        rev: current.rev + 1,
      };
      try {
        await this.store.put(
          "resources",
          { pk: deliveryKey(id), sk: eventId, ...next },
          { expectedRev: current.rev },
        );
      } catch (error) {
        if (error instanceof ConditionFailedError) continue;
        throw error;
      }
      // And again now that it is pending: an attempt that ended just before this write may have
      // left the index in between (its delete after this entry was put, its second look before
      // this write), which would leave a pending delivery the sweeper cannot find.
      await enterPendingIndex({ store: this.store, clock: this.clock }, id, eventId);
      await this.queue.send(nudgeOf(next));
      return viewOf(next);
    }
  }

  private async load(workspaceId: string, id: string): Promise<EndpointRecord> {
    const item = await this.store.get("resources", endpointKey(workspaceId), id);
    if (!item) throw new NotFoundError("webhook endpoint", id);
    return endpointRecordSchema.parse(item);
  }

  private async change(
    workspaceId: string,
    id: string,
    apply: (current: EndpointRecord) => EndpointRecord,
  ): Promise<EndpointRecord> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.load(workspaceId, id);
      const next = {
        ...apply(current),
        updated_at: new Date(this.clock.now()).toISOString(),
        rev: current.rev + 1,
      };
      try {
        await this.store.put(
          "resources",
          { pk: endpointKey(workspaceId), sk: id, ...next },
          { expectedRev: current.rev },
        );
        return next;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
    throw new ConflictError(`webhook endpoint ${id} is being changed concurrently`, { retryable: true });
  }
}

function present(record: EndpointRecord): BetaOrganizationWebhookEndpoint {
  return {
    id: record.id,
    created_at: record.created_at,
    updated_at: record.updated_at,
    description: record.description,
    disabled_reason: record.disabled_reason,
    // The SDK's enum names organization events only; endpoints here subscribe to session events too.
    enabled_events: record.enabled_events as BetaOrganizationWebhookEndpoint["enabled_events"],
    name: record.name,
    state: record.state,
    url: record.url,
  };
}

function viewOf(d: DeliveryRecord): WebhookDeliveryView {
  return {
    type: "webhook_delivery",
    id: d.eventId,
    event_type: d.eventType,
    status: d.status,
    attempts: d.attempts,
    last_status: d.lastStatus ?? null,
    last_error: d.lastError ?? null,
    created_at: d.createdAt,
    delivered_at: d.deliveredAt ?? null,
    payload: JSON.parse(d.payload),
  };
}
