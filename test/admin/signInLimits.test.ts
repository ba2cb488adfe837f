import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../admin/app.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import type { CoreContext } from '../../core/context.js';
import { anotherProcess } from '../support/databases.js';
import { useFreshLedger } from '../support/scenario.js';

/**
 * Guessing admin tokens or one-time links: past a small budget per client address (and overall)
 * the answer is 429 with Retry-After, and the audit log gets one row for the burst, not one per
 * guess. On PostgreSQL every process shares the counters.
 */
const wrongToken = () => `ck_${randomBytes(24).toString('base64url')}`;

async function listen(ctx: CoreContext): Promise<{ base: string; close: () => void }> {
  const server = createApp(ctx, pino({ level: 'silent' })).listen(0);
  await new Promise((resolve) => server.once('listening', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

function signIn(base: string, form: Record<string, string>, path = '/admin/login', address?: string): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(address && { 'x-forwarded-for': address }) },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
}

async function signInAudit(ctx: CoreContext) {
  return ctx.db.sql.query<{ outcome: string; details: { attempts?: number; scope?: string } | null }>(
    `SELECT outcome, details FROM audit_log WHERE action = 'admin.sign-in' ORDER BY created_at`,
  );
}

describe('sign-in rate limits (PGlite)', () => {
  const ctx = useFreshLedger('pglite');
  let app: { base: string; close: () => void };
  beforeAll(async () => {
    app = await listen(ctx);
  });
  afterAll(() => app.close());

  it('200 wrong admin tokens at once: at most 10 are tried, the rest get 429 with Retry-After, and the audit log has one row for the burst', async () => {
    const replies = await Promise.all(Array.from({ length: 200 }, () => signIn(app.base, { token: wrongToken() }, '/admin/login', '10.0.0.1')));
    const tried = replies.filter((r) => r.status !== 429);
    expect(tried.length).toBeLessThanOrEqual(10);
    expect(tried.every((r) => r.status === 401)).toBe(true);
    const refused = replies.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(190);
    expect(refused.every((r) => Number(r.headers.get('retry-after')) > 0)).toBe(true);

    const audit = await signInAudit(ctx);
    expect(audit.length).toBeLessThanOrEqual(11);
    const bursts = audit.filter((row) => row.outcome === 'denied: rate limited');
    expect(bursts).toHaveLength(1);
    expect(bursts[0]!.details).toMatchObject({ attempts: 11, scope: 'address' });
    // One-time links share the address's budget.
    expect((await signIn(app.base, { secret: wrongToken() }, '/admin/login/link', '10.0.0.1')).status).toBe(429);
  });

  it('a successful sign-in uses up none of the budget; other addresses are unaffected', async () => {
    const admin = (await createApiToken(ctx, { name: 'ana@support', scopes: ['ADMIN'], actor: { kind: 'STAFF', id: 'setup' } })).secret;
    for (let i = 0; i < 12; i++) expect((await signIn(app.base, { token: admin }, '/admin/login', '10.0.0.2')).status).toBe(303);
    expect((await signIn(app.base, { token: wrongToken() }, '/admin/login', '10.0.0.2')).status).toBe(401);
  });

  it('many addresses together hit the overall limit', async () => {
    const replies: Response[] = [];
    for (let a = 10; a < 25; a++) replies.push(...(await Promise.all(Array.from({ length: 10 }, () => signIn(app.base, { token: wrongToken() }, '/admin/login', `10.0.1.${a}`)))));
    expect(replies.filter((r) => r.status !== 429).length).toBeLessThanOrEqual(100);
    const audit = await signInAudit(ctx);
    expect(audit.filter((row) => row.outcome === 'denied: rate limited' && row.details?.scope === 'overall')).toHaveLength(1);
  });

  it('the API: 200 unknown bearer tokens get at most 20 answers of 401, then 429 with Retry-After', async () => {
    const replies = await Promise.all(
      Array.from({ length: 200 }, () => fetch(`${app.base}/v1/plans`, { headers: { authorization: `Bearer ${wrongToken()}`, 'x-forwarded-for': '10.0.2.1' } })),
    );
    expect(replies.filter((r) => r.status !== 429).length).toBeLessThanOrEqual(20);
    const refused = replies.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(180);
    expect(refused.every((r) => Number(r.headers.get('retry-after')) > 0)).toBe(true);
  });
});

describe('sign-in rate limits shared by two processes (PostgreSQL)', () => {
  const ctx = useFreshLedger('postgres');
  let first: { base: string; close: () => void };
  let second: { base: string; close: () => void };
  let secondCtx: CoreContext;
  beforeAll(async () => {
    secondCtx = await anotherProcess(ctx);
    first = await listen(ctx);
    second = await listen(secondCtx);
  });
  afterAll(async () => {
    first.close();
    second.close();
    await secondCtx.db.close();
  });

  it('guesses spread over two instances on one database share one budget', async () => {
    const replies: Response[] = [];
    for (let i = 0; i < 40; i++) replies.push(await signIn(i % 2 ? second.base : first.base, { token: wrongToken() }, '/admin/login', '10.1.0.1'));
    expect(replies.filter((r) => r.status !== 429).length).toBeLessThanOrEqual(10);
    expect(replies.slice(10).every((r) => r.status === 429 && Number(r.headers.get('retry-after')) > 0)).toBe(true);
    expect((await signInAudit(ctx)).filter((row) => row.outcome === 'denied: rate limited')).toHaveLength(1);

    const api = (base: string) => fetch(`${base}/v1/plans`, { headers: { authorization: `Bearer ${wrongToken()}`, 'x-forwarded-for': '10.1.0.2' } });
    const apiReplies: Response[] = [];
    for (let i = 0; i < 60; i++) apiReplies.push(await api(i % 2 ? second.base : first.base));
    expect(apiReplies.filter((r) => r.status !== 429).length).toBeLessThanOrEqual(20);
  });
});
