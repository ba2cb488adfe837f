import { z } from 'zod';
import { components, csvText, ErrorBody } from './responses.js';
import type { Route } from './route.js';

/**
 * OpenAPI 3.1, generated from the zod schemas that validate requests and describe replies (responses.ts), so
 * the document cannot drift from what the server accepts and returns.
 */
export function openApiDocument(routes: Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:(\w+)/g, '{$1}');
    const keyed = r.write === 'ledger' || r.write === 'stored';
    const parameters = [
      ...parametersOf(r.params, 'path'),
      ...parametersOf(r.query, 'query'),
      ...(keyed
        ? [{ name: 'Idempotency-Key', in: 'header', required: !r.dryRun, description: `Unique per request; a retry with the same key gets the first reply${r.dryRun ? ' (not needed with dryRun=true)' : ''}`, schema: { type: 'string', maxLength: 200, pattern: '^[A-Za-z0-9._:\\-/]+$' } }]
        : []),
    ];
    (paths[path] ??= {})[r.method] = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      security: r.scopes === 'public' ? [] : [{ bearer: r.scopes }],
      'x-scopes': r.scopes === 'public' ? [] : r.scopes,
      ...(parameters.length > 0 && { parameters }),
      ...(r.body && { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body) } } } }),
      responses: {
        [String(r.status ?? 200)]: {
          description: keyed ? 'Done (a replay carries the header Idempotent-Replayed: true)' : 'OK',
          headers: { ...requestIdHeader, ...(keyed && replayedHeader) },
          content: r.response === csvText ? { 'text/csv': { schema: { type: 'string' } } } : { 'application/json': { schema: responseSchema(r.response) } },
        },
        ...(r.dryRun && {
          200: { description: 'dryRun=true: what the write would do, nothing written', headers: requestIdHeader, content: { 'application/json': { schema: responseSchema(r.dryRun) } } },
        }),
        default: {
          description: 'An error',
          headers: { ...requestIdHeader, ...retryAfterHeader },
          content: { 'application/json': { schema: responseSchema(ErrorBody) } },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Creditkeeper',
      version: '1',
      description:
        'A credit ledger. Credits are whole numbers, sent as JSON numbers or decimal strings and returned as decimal strings. ' +
        'Every write needs an Idempotency-Key header. Errors are { error: { code, message, requestId } } with stable codes.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token with scopes SERVICE, ADMIN or READ' } },
      schemas: componentSchemas(),
    },
  };
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    override: (context) => {
      // Credits are bigint in code: on the wire, integers.
      if ((context.zodSchema as { _zod: { def: { type: string } } })._zod.def.type === 'bigint') context.jsonSchema.type = 'integer';
      withoutTimePattern(context);
    },
  });
  return rest;
}

/** `format: date-time` says it: zod's 400-character pattern for it would only bury the document. */
function withoutTimePattern(context: { jsonSchema: { format?: string; pattern?: string } }): void {
  if (context.jsonSchema.format === 'date-time') delete context.jsonSchema.pattern;
}

function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query'): Record<string, unknown>[] {
  if (!schema) return [];
  const json = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: property,
  }));
}

const requestIdHeader = { 'x-request-id': { description: 'The request id (the one sent, if well-formed); errors carry it as requestId', schema: { type: 'string' } } };
const replayedHeader = { 'Idempotent-Replayed': { description: 'true when this is the first reply to this Idempotency-Key, sent again', schema: { type: 'string', enum: ['true'] } } };
const retryAfterHeader = { 'Retry-After': { description: 'Seconds to wait before retrying (RATE_LIMITED, DATABASE_UNAVAILABLE, STORAGE_FULL)', schema: { type: 'integer' } } };

const componentPath = '#/components/schemas/';

/** The named response schemas (Entry, Balance, Error…), referring to each other by $ref. */
function componentSchemas(): Record<string, unknown> {
  const { schemas } = z.toJSONSchema(components, { io: 'output', uri: (id) => `${componentPath}${id}`, override: withoutTimePattern });
  return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _dialect, $id: _id, ...schema }]) => [id, schema]));
}

/** A reply's schema: a $ref when it is a component, else inline with $refs to the components it uses. */
function responseSchema(schema: z.ZodType): Record<string, unknown> {
  const id = components.get(schema)?.id;
  if (id) return { $ref: `${componentPath}${id}` };
  const { $schema: _dialect, $defs: _components, ...inline } = z.toJSONSchema(schema, { io: 'output', metadata: components, override: withoutTimePattern });
  return JSON.parse(JSON.stringify(inline).replaceAll('"#/$defs/', `"${componentPath}`)) as Record<string, unknown>;
}
