import { createHash, randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { z } from 'zod';
import { ensureAccountInReach } from '../core/access/accountReach.js';
import { authenticateToken, type TokenPrincipal } from '../core/access/authenticateToken.js';
import type { CoreContext } from '../core/context.js';
import { isDatabaseOutage } from '../core/db/databaseErrors.js';
import { pendingMigrations } from '../core/db/migrate.js';
import { CreditkeeperError, isCreditkeeperError } from '../core/errors.js';
import { respondOnce, jsonSafe } from '../core/idempotency/respondOnce.js';
import { type Actor, idempotencyKey as idempotencyKeySchema, parseInput } from '../core/input.js';
import type { Logger } from '../core/logger.js';
import { streamCsv } from './csv.js';
import { httpStatus } from './httpErrors.js';
import { createMetrics, type Metrics } from './metrics.js';
import { originOf } from './originOf.js';
import { RateLimiter, rateLimited, SignInLimits } from './rateLimit.js';
import { openApiDocument } from './openapi.js';
import { styleHashes } from './page/html.js';
import { adminPage } from './page/router.js';
import type { RawRouter } from './rawRouter.js';
import { portalPage } from './portal/router.js';
import { isDryRun, type Route } from './route.js';
import { accountRoutes } from './routes/accounts.js';
import { batchRoutes } from './routes/batches.js';
import { ledgerRoutes } from './routes/ledger.js';
import { planRoutes } from './routes/plans.js';
import { portalRoutes } from './routes/portal.js';
import { reportRoutes } from './routes/reports.js';
import { rewardRoutes } from './routes/rewards.js';
import { staffRoutes } from './routes/staff.js';
import { thresholdRoutes } from './routes/thresholds.js';
import { webhookRoutes } from './routes/webhooks.js';

export const apiRoutes: Route[] = [...accountRoutes, ...ledgerRoutes, ...batchRoutes, ...planRoutes, ...rewardRoutes, ...reportRoutes, ...staffRoutes, ...portalRoutes, ...webhookRoutes, ...thresholdRoutes];

const bodyLimit = '64kb';
const batchBodyLimit = '1mb';

/**
 * The HTTP surface (service API, admin API, health, OpenAPI): each route parses with zod, calls one core
 * use-case and renders JSON; errors map to statuses once (httpErrors.ts).
 */
export interface AppOptions {
  /** The process's metrics: /metrics serves them. Its write counters count what the context's observer tells them (see cli/wireProcess.ts). */
  metrics?: Metrics;
  /** Requests a second per token on average (bursts of twice that). */
  perTokenPerSecond?: number;
  /** Requests a second per IP address on public routes (bursts of twice that). */
  perIpPerSecond?: number;
  /** Endpoints that read their own raw body (Slack's, which checks its signature over it). */
  routers?: RawRouter[];
  /** More of /readyz's body (the chat transports' status); it never changes the status code. */
  readiness?: () => Record<string, unknown>;
}

export function createApp(ctx: CoreContext, logger: Logger, options: AppOptions = {}): express.Express {
  const metrics = options.metrics ?? createMetrics();
  const perToken = options.perTokenPerSecond ?? 500;
  const limits: Limits = {
    perToken: new RateLimiter(perToken, perToken * 2),
    perIp: new RateLimiter(options.perIpPerSecond ?? 20, (options.perIpPerSecond ?? 20) * 2),
    failedSignIns: new SignInLimits(ctx.db, 'api-sign-in', { perAddress: 20, overall: 200, windowSeconds: 60 }),
  };
  const app = express();
  app.set('trust proxy', 'loopback');
  app.use(securityHeaders());
  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && /^[A-Za-z0-9._-]{1,100}$/.test(given) ? given : randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      serializers: { res: responseForLog },
    }),
  );
  app.use((req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      const routePath = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      metrics.request(req.method, routePath, res.statusCode, (performance.now() - started) / 1000);
    });
    next();
  });
  for (const { path, router } of options.routers ?? []) app.use(path, router);
  // A batch carries up to 1,000 events: its body may be larger than one write's.
  for (const r of apiRoutes.filter((r) => r.write === 'each')) app.post(r.path, express.json({ limit: batchBodyLimit, type: 'application/json' }));
  app.use(express.json({ limit: bodyLimit, type: 'application/json' }));

  // Liveness: the process answers. It does not touch the database, so an outage there never
  // gets the process restarted (it reconnects by itself); /readyz tells the database's state.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    // A read replica's state is told, never a reason to fail: the primary answers what it cannot.
    // Asked at once: the standby's status never fails, and never waits for its replay.
    const [replica, pending] = await Promise.all([ctx.replica?.status(), pendingMigrations(ctx.db.sql).catch((error: unknown) => error)]);
    const more = { ...options.readiness?.(), ...(replica && { replica }) };
    if (Array.isArray(pending)) {
      res.status(pending.length ? 503 : 200).json({ status: pending.length ? 'migrations pending' : 'ready', pending, ...more });
      return;
    }
    // STORAGE_FULL here: the embedded database stopped when its disk filled up, and is being reopened.
    if (!isDatabaseOutage(pending)) throw pending;
    res.status(503).json({ status: 'database unavailable', reason: pending.details.reason, ...more });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  const document = openApiDocument(apiRoutes);
  app.get('/v1/openapi.json', (_req, res) => {
    res.json(document);
  });

  for (const r of apiRoutes) app[r.method](r.path, (req, res) => serve(ctx, limits, r, req, res));
  app.use('/admin', adminPage(ctx, new SignInLimits(ctx.db, 'admin-sign-in', { perAddress: 10, overall: 100, windowSeconds: 900 })));
  app.use('/portal', portalPage(ctx));

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new CreditkeeperError('NOT_FOUND', `No route ${req.method} ${req.path}`));
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const known = toCreditkeeperError(error);
    const requestId = String(req.id);
    if (!known) {
      req.log.error({ err: error }, 'unexpected error');
      res.status(500).json({ error: { code: 'INTERNAL', message: `Something went wrong (ref ${requestId})`, requestId } });
      return;
    }
    const status = httpStatus[known.code];
    if (status >= 500) req.log.error({ err: error }, known.message);
    if (typeof known.details.retryAfterSeconds === 'number') res.setHeader('Retry-After', String(known.details.retryAfterSeconds));
    res.status(status).json(JSON.parse(JSON.stringify({ error: { code: known.code, message: known.message, requestId, details: known.details } }, jsonSafe)));
  });
  return app;
}

/**
 * helmet's headers on every answer, with a Content-Security-Policy for the admin page: no
 * script at all, style only its own stylesheet (by hash), forms only to this site, no framing.
 */
function securityHeaders() {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'none'"],
        styleSrc: styleHashes.elements,
        styleSrcAttr: ["'unsafe-hashes'", ...styleHashes.attributes],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    },
  });
}

/** Headers every answer carries alike (helmet's) or that the line says already (the request id): a request's log line leaves them out. */
const sameOnEveryAnswer = new Set([
  'content-security-policy', 'cross-origin-opener-policy', 'cross-origin-resource-policy', 'origin-agent-cluster', 'referrer-policy',
  'strict-transport-security', 'x-content-type-options', 'x-dns-prefetch-control', 'x-download-options', 'x-frame-options',
  'x-permitted-cross-domain-policies', 'x-xss-protection', 'x-request-id', 'etag',
]);

/** The answer in a request's log line: its status and the headers that tell something about it (Set-Cookie still redacted). */
function responseForLog(res: { statusCode: number; headers: Record<string, unknown> }) {
  const headers = Object.fromEntries(Object.entries(res.headers).filter(([name]) => !sameOnEveryAnswer.has(name)));
  return { statusCode: res.statusCode, headers };
}

interface Limits {
  perToken: RateLimiter;
  /** Public routes (the ad network's callback), per IP address. */
  perIp: RateLimiter;
  /** Guessing tokens: a caller (by IP) that keeps failing to sign in, or everyone together, is refused for a while. */
  failedSignIns: SignInLimits;
}

async function serve(ctx: CoreContext, limits: Limits, r: Route, req: Request, res: Response): Promise<void> {
  // Only failures count: a valid token never waits on the shared counters.
  const principal = r.scopes === 'public' ? anonymous(req) : await authenticate(ctx, req).catch(async (error: unknown) => {
    // Only a refused token is a failed sign-in: a database that could not look it up says nothing about it.
    if (!isCreditkeeperError(error, 'UNAUTHENTICATED')) throw error;
    const verdict = await limits.failedSignIns.attempt(req.ip ?? 'unknown');
    throw verdict.allowed ? error : rateLimited(verdict.retryAfterSeconds);
  });
  const verdict = (r.scopes === 'public' ? limits.perIp : limits.perToken).take(principal.tokenId);
  if (!verdict.allowed) throw rateLimited(verdict.retryAfterSeconds);
  const scopes = r.scopes;
  if (scopes !== 'public' && !scopes.some((scope) => principal.scopes.includes(scope))) {
    throw new CreditkeeperError('FORBIDDEN', `This needs a token with scope ${scopes.join(' or ')}`);
  }
  const params = r.params ? parseInput(r.params, req.params) : {};
  const query = r.query ? parseInput(r.query, req.query) : {};
  const body = r.body ? parseInput(r.body, req.body ?? {}) : {};
  if (r.accountParam) await ensureAccountInReach(ctx, principal, (params as Record<string, string>)[r.accountParam]!);

  const origin = originOf(req, 'http');
  const input = {
    params,
    query,
    body,
    principal,
    actor: actorOf(r, principal, req),
    origin,
    idempotencyKey: '',
    rawQuery: req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '',
    dryRun: isDryRun(r, query),
  };

  if (!r.write || r.write === 'each' || input.dryRun) {
    const result = await r.handle(ctx, input);
    if (result && typeof result === 'object' && 'csv' in result) return streamCsv(res, (result as { csv: AsyncIterable<string> }).csv);
    res.status(input.dryRun ? 200 : (r.status ?? 200)).type('application/json').send(JSON.stringify(result, jsonSafe));
    return;
  }
  const key = req.get('Idempotency-Key');
  if (!key) throw new CreditkeeperError('IDEMPOTENCY_KEY_REQUIRED', 'Writes need an Idempotency-Key header');
  input.idempotencyKey = parseInput(idempotencyKeySchema, key);
  if (r.write === 'ledger') {
    const { replayed, ...result } = (await r.handle(ctx, input)) as { replayed: boolean };
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(r.status ?? 200).type('application/json').send(JSON.stringify(result, jsonSafe));
    return;
  }
  const requestHash = createHash('sha256').update(JSON.stringify([r.method, req.path, JSON.stringify(body, jsonSafe)])).digest('hex');
  const reply = await respondOnce(ctx, { scope: principal.tokenId, key: input.idempotencyKey, requestHash }, async () => ({
    status: r.status ?? 200,
    body: await r.handle(ctx, input),
  }));
  if (reply.replayed) res.setHeader('Idempotent-Replayed', 'true');
  res.status(reply.status).type('application/json').send(JSON.stringify(reply.body, jsonSafe));
}

const actingMemberHeader = z.string().trim().min(1).max(200);

/**
 * SERVICE for a SERVICE token, the named STAFF for an ADMIN token, or the user an `Acting-Member` header names,
 * whose role core then checks.
 */
function actorOf(r: Route, principal: TokenPrincipal, req: Request): Actor {
  if (r.scopes === 'public') return { kind: 'SYSTEM' };
  const asService = principal.scopes.includes('SERVICE') && r.scopes.includes('SERVICE');
  const actingMember = req.get('Acting-Member');
  if (actingMember !== undefined && r.write) {
    if (!asService) throw new CreditkeeperError('VALIDATION_FAILED', 'Acting-Member: only a SERVICE token acts for its users', { path: 'Acting-Member' });
    return { kind: 'USER', id: parseInput(actingMemberHeader, actingMember) };
  }
  return asService ? { kind: 'SERVICE', id: principal.name } : { kind: 'STAFF', id: principal.name };
}

/** A caller of a public route: no token, known only by its address. */
function anonymous(req: Request): TokenPrincipal {
  return { tokenId: `ip:${req.ip ?? 'unknown'}`, name: 'anonymous', scopes: [], organisationId: null };
}

async function authenticate(ctx: CoreContext, req: Request): Promise<TokenPrincipal> {
  const header = req.get('authorization') ?? '';
  const match = /^Bearer ([A-Za-z0-9_\-]{10,200})$/.exec(header);
  if (!match) throw new CreditkeeperError('UNAUTHENTICATED', 'Send a token: Authorization: Bearer <token>');
  return authenticateToken(ctx, match[1]!);
}


/** Express's own failures (bad JSON, a body too large) become typed errors too. */
function toCreditkeeperError(error: unknown): CreditkeeperError | undefined {
  if (isCreditkeeperError(error)) return error;
  const type = (error as { type?: string }).type;
  if (type === 'entity.parse.failed') return new CreditkeeperError('VALIDATION_FAILED', 'The body is not valid JSON');
  if (type === 'entity.too.large') return new CreditkeeperError('PAYLOAD_TOO_LARGE', `Bodies are limited to ${bodyLimit} (a batch's to ${batchBodyLimit})`);
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new CreditkeeperError('VALIDATION_FAILED', 'Send the body as UTF-8 JSON');
  }
  // Whatever else Express and body-parser refuse as the client's fault: a body that is not the
  // gzip or deflate it says it is, a path segment that does not decode as UTF-8.
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new CreditkeeperError('VALIDATION_FAILED', `The request cannot be read: ${(error as Error).message}`);
  }
  return undefined;
}
