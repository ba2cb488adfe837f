import { z } from 'zod';
import { listWebhookDeliveries, listWebhookDeliveriesInput } from '../../core/webhooks/listWebhookDeliveries.js';
import { listWebhookEndpoints } from '../../core/webhooks/listWebhookEndpoints.js';
import { registerWebhookEndpoint, registerWebhookEndpointInput } from '../../core/webhooks/registerWebhookEndpoint.js';
import { replayWebhookDelivery } from '../../core/webhooks/replayWebhookDelivery.js';
import { setWebhookEndpointEnabled } from '../../core/webhooks/setWebhookEndpointEnabled.js';
import { webhookSettings } from '../../core/webhooks/webhookSettings.js';
import { fieldsOf, route, serviceOrStaffWrites } from '../route.js';

const endpointPath = z.strictObject({ endpointId: z.string().min(1).max(100) });

const time = z.iso.datetime();
const endpointShape = {
  id: z.uuid(),
  organisationId: z.uuid().nullable(),
  url: z.string(),
  eventTypes: z.array(z.string()),
  enabled: z.boolean(),
  failingSince: time.nullable(),
  createdBy: z.string(),
  createdAt: time,
};
const WebhookEndpoint = z.strictObject(endpointShape);
const WebhookDelivery = z.strictObject({
  eventId: z.uuid(),
  type: z.string(),
  accountId: z.uuid(),
  status: z.enum(['PENDING', 'RETRYING', 'DELIVERED']),
  attempts: z.number().int(),
  nextAttemptAt: time.nullable(),
  lastAttemptAt: time.nullable(),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  deliveredAt: time.nullable(),
  createdAt: time,
});

/** An organisation-limited token manages only its organisation's endpoints; a global endpoint needs an unrestricted one. */
export const webhookRoutes = [
  route({
    method: 'post',
    path: '/v1/webhooks/endpoints',
    tag: 'Webhooks',
    summary: 'Register a webhook endpoint (URL, event types, organisation or global); the signing secret is in this answer only',
    scopes: serviceOrStaffWrites,
    body: fieldsOf(registerWebhookEndpointInput, ['createdBy']),
    write: 'stored',
    status: 201,
    response: z.strictObject({ ...endpointShape, secret: z.string().meta({ description: 'whsec_…: shown in this answer only' }) }),
    handle: (ctx, { body, principal }) => registerWebhookEndpoint(ctx, { ...body, createdBy: principal.name }, principal, webhookSettings()),
  }),
  route({
    method: 'get',
    path: '/v1/webhooks/endpoints',
    tag: 'Webhooks',
    summary: 'The webhook endpoints this token manages (never their secrets), with whether each is enabled and since when it is failing',
    scopes: serviceOrStaffWrites,
    write: false,
    response: z.strictObject({ endpoints: z.array(WebhookEndpoint) }),
    handle: (ctx, { principal }) => listWebhookEndpoints(ctx, principal),
  }),
  route({
    method: 'post',
    path: '/v1/webhooks/endpoints/:endpointId/enabled',
    tag: 'Webhooks',
    summary: 'Enable or disable an endpoint: disabled, its queued deliveries wait; enabled again, they go in order',
    scopes: serviceOrStaffWrites,
    params: endpointPath,
    body: z.strictObject({ enabled: z.boolean() }),
    write: 'stored',
    response: WebhookEndpoint,
    handle: (ctx, { params, body, principal }) => setWebhookEndpointEnabled(ctx, { endpointId: params.endpointId, enabled: body.enabled }, principal),
  }),
  route({
    method: 'get',
    path: '/v1/webhooks/endpoints/:endpointId/deliveries',
    tag: 'Webhooks',
    summary: "An endpoint's deliveries, newest first: status, attempts, next attempt, last response code and error",
    scopes: serviceOrStaffWrites,
    params: endpointPath,
    query: fieldsOf(listWebhookDeliveriesInput, ['endpointId']).extend({ limit: z.coerce.number().int().min(1).max(200).optional() }),
    write: false,
    response: z.strictObject({ deliveries: z.array(WebhookDelivery) }),
    handle: (ctx, { params, query, principal }) => listWebhookDeliveries(ctx, { ...query, endpointId: params.endpointId }, principal),
  }),
  route({
    method: 'post',
    path: '/v1/webhooks/endpoints/:endpointId/deliveries/:eventId/replay',
    tag: 'Webhooks',
    summary: 'Send one event to the endpoint again (same webhook-id), now',
    scopes: serviceOrStaffWrites,
    params: z.strictObject({ endpointId: z.string().min(1).max(100), eventId: z.string().min(1).max(100) }),
    body: z.strictObject({}),
    write: 'stored',
    response: z.strictObject({ eventId: z.uuid(), status: z.literal('PENDING') }),
    handle: (ctx, { params, principal }) => replayWebhookDelivery(ctx, params, principal),
  }),
];
