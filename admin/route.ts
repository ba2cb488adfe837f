import { z } from 'zod';
import type { TokenPrincipal } from '../core/access/authenticateToken.js';
import type { CoreContext } from '../core/context.js';
import type { Actor, Origin } from '../core/input.js';

/**
 * One HTTP route: its zod schemas (which both validate requests and describe the route in
 * /v1/openapi.json), the token scopes that may call it, and the one core use-case it calls.
 */
export type Scope = 'SERVICE' | 'ADMIN' | 'READ';

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** On a public route, an anonymous caller named by its IP address, with no scopes. */
  principal: TokenPrincipal;
  /** The query string as received, for routes that ask for it. */
  rawQuery: string;
  /** SERVICE when a SERVICE token calls; STAFF (named by the token) when an ADMIN token does. */
  actor: Actor;
  origin: Origin;
  /** The Idempotency-Key header (required on writes). */
  idempotencyKey: string;
  /** A write with a Route.dryRun reply asked with `?dryRun=true`: answer it, writing nothing (isDryRun decides, once). */
  dryRun: boolean;
}

/**
 * What a handler may return for its reply to be `Wire` (a response schema's output): in code,
 * credits are bigint and times Date where the wire has strings, and the CSV route a stream.
 */
export type InCode<Wire> =
  Wire extends z.core.$brand<'csv'>
    ? { csv: AsyncIterable<string> }
    : Wire extends string
      ? Wire | bigint | Date
      : Wire extends readonly (infer Item)[]
        ? InCode<Item>[]
        : Wire extends object
          ? { [K in keyof Wire]: InCode<Wire[K]> }
          : Wire;

export interface Route<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
  D extends z.ZodType = z.ZodNever,
> {
  method: 'get' | 'post';
  path: string;
  summary: string;
  tag: string;
  /** 'public': no token (an ad network's callback), limited per IP address instead. */
  scopes: Scope[] | 'public';
  params?: P;
  query?: Q;
  body?: B;
  /** The successful reply's body as it is on the wire (admin/responses.ts); errors are all ErrorBody. */
  response: R;
  /**
   * A write needs an Idempotency-Key and a retry gets the first reply: 'ledger' from the entries the key wrote,
   * 'stored' from the reply kept per token; 'each' is a batch whose items carry their own keys (no header).
   */
  write: false | 'ledger' | 'stored' | 'each';
  /** A write that `?dryRun=true` (dryRunQuery) makes a read: no Idempotency-Key, nothing written, answered 200 with this reply. */
  dryRun?: D;
  /** Status of a successful reply (200 by default, 201 for creations). */
  status?: number;
  /** Which path parameter names an account the token must be able to reach. */
  accountParam?: string;
  /** A 'ledger' write also says whether it was a replay (sent as a header, not in the body). */
  handle(ctx: CoreContext, input: RouteInput<z.infer<P>, z.infer<Q>, z.infer<B>>): Promise<(InCode<z.output<R>> | InCode<z.output<D>>) & { replayed?: boolean }>;
}

export function route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType, D extends z.ZodType = z.ZodNever>(
  definition: Route<P, Q, B, R, D>,
): Route {
  return definition as unknown as Route;
}

/** Who may call what: reads are open to every scope; writes to the host product or to staff. */
export const reads: Scope[] = ['READ', 'SERVICE', 'ADMIN'];
export const serviceWrites: Scope[] = ['SERVICE'];
export const staffOnly: Scope[] = ['ADMIN'];
/** Writes both the host product and staff make (refunds, grants): staff are audited and give a reason. */
export const serviceOrStaffWrites: Scope[] = ['SERVICE', 'ADMIN'];

/**
 * A use-case's input minus what HTTP supplies (path, Idempotency-Key, token): what a body or query may hold;
 * unknown fields, those included, are refused.
 */
export function fieldsOf<Shape extends z.ZodRawShape, Supplied extends keyof Shape & string>(
  schema: z.ZodObject<Shape>,
  supplied: readonly Supplied[],
): z.ZodObject<Omit<Shape, Supplied>, z.core.$strict> {
  const shape = Object.fromEntries(Object.entries(schema.shape).filter(([name]) => !supplied.includes(name as Supplied)));
  return z.strictObject(shape) as unknown as z.ZodObject<Omit<Shape, Supplied>, z.core.$strict>;
}

/** The query of a write that takes `dryRun` (Route.dryRun). */
export const dryRunQuery = z.strictObject({
  dryRun: z.enum(['true', 'false']).optional().meta({ description: 'true: answer what the write would do, writing nothing (no Idempotency-Key needed)' }),
});

export function isDryRun(r: Route, query: unknown): boolean {
  return r.dryRun !== undefined && (query as z.infer<typeof dryRunQuery>).dryRun === 'true';
}

export const accountPath = z.strictObject({ accountId: z.uuid({ message: 'must be an id' }) });
export const ledgerSupplied = ['accountId', 'idempotencyKey', 'actor', 'origin'] as const;
