import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { addMember } from '../../core/accounts/addMember.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { purchase } from '../../core/ledger/purchase.js';
import { client, useApi } from '../support/api.js';
import { engines } from '../support/databases.js';
import { balanceOf, entryCount, key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

/**
 * POST …/usage?dryRun=true: the quote's answer for the write's own body, with no Idempotency-Key,
 * writing nothing; and the same refusal codes the write gets.
 */
describe.each(engines)('usage dry runs on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);
  let accountId = '';
  let post: (query: string, body: unknown, idempotencyKey?: string) => ReturnType<ReturnType<typeof client>>;
  const stored = async () => {
    const [row] = await ctx.db.sql.query<{ responses: number; rollups: number; events: number }>(
      `SELECT (SELECT count(*) FROM stored_responses)::int AS responses, (SELECT count(*) FROM usage_rollups)::int AS rollups,
         (SELECT count(*) FROM webhook_events)::int AS events`,
    );
    return { ...row, entries: await entryCount(ctx, accountId) };
  };

  beforeAll(async () => {
    accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: service, amount: 10n });
    post = (query, body, idempotencyKey) =>
      client(api.baseUrl, api.service)('POST', `/v1/accounts/${accountId}/usage${query}`, { body, ...(idempotencyKey && { key: idempotencyKey }) });
  });

  it('10 credits, two images (6): the dry run says 10 → 4 from the purchased bucket, writes nothing and leaves its key unused', async () => {
    const before = await stored();
    const body = { charge: { action: 'image', quantity: 2 }, note: 'logo' };
    const dry = await post('?dryRun=true', body);
    expect(dry.status, dry.text).toBe(200);
    expect(dry.body).toMatchObject({ affordable: true, balanceBefore: '10', balanceAfter: '4', refusal: null, cost: { amount: '6', charged: '6' } });
    expect(dry.body.buckets).toEqual([expect.objectContaining({ kind: 'PURCHASED', amount: '-6' })]);
    // A key sent with a dry run is not used up by it.
    const withKey = await post('?dryRun=true', body, 'turn-1');
    expect(withKey.status).toBe(200);
    expect(withKey.headers.get('idempotent-replayed')).toBeNull();
    expect(await stored()).toEqual(before);
    expect(await balanceOf(ctx, accountId)).toBe(10n);

    const written = await post('', body, 'turn-1');
    expect(written.status, written.text).toBe(201);
    expect(written.headers.get('idempotent-replayed')).toBeNull();
    expect(written.body.balance).toBe(dry.body.balanceAfter);
    expect(await stored()).toMatchObject({ entries: before.entries + 1 });
    // ?dryRun=false is the write itself, and so needs its key.
    expect((await post('?dryRun=false', body)).body.error.code).toBe('IDEMPOTENCY_KEY_REQUIRED');
    expect((await post('?dryRun=yes', body)).body.error.code).toBe('VALIDATION_FAILED');
  });

  it('what the write is refused with, the dry run answers with the same code, and neither writes', async () => {
    const before = await stored();
    const cases = [
      { charge: { action: 'image', quantity: 5 } }, // 15 of the 4 left
      { charge: { action: 'teleport', quantity: 1 } },
      { charge: { action: 'image', quantity: 0 } },
      { charge: { action: 'image', quantity: 1 }, occurredAt: new Date(Date.now() - 36 * 86_400_000).toISOString() },
      { charge: { action: 'image', quantity: 1 }, occurredAt: 'soon' },
    ];
    const codes = [];
    for (const body of cases) {
      const dry = await post('?dryRun=true', body);
      const real = await post('', body, key());
      codes.push([dry.status === 200 ? dry.body.refusal.code : dry.body.error.code, real.body.error.code]);
    }
    expect(codes).toEqual([
      ['INSUFFICIENT_CREDITS', 'INSUFFICIENT_CREDITS'],
      ['UNKNOWN_ACTION', 'UNKNOWN_ACTION'],
      ['VALIDATION_FAILED', 'VALIDATION_FAILED'],
      ['VALIDATION_FAILED', 'VALIDATION_FAILED'],
      ['VALIDATION_FAILED', 'VALIDATION_FAILED'],
    ]);
    const missing = await client(api.baseUrl, api.service)('POST', `/v1/accounts/${randomUUID()}/usage?dryRun=true`, { body: cases[0] });
    expect(missing.body.error.code).toBe('ACCOUNT_NOT_FOUND');
    expect(await stored()).toEqual(before);
    expect(await balanceOf(ctx, accountId)).toBe(4n);
  });

  it("vera, a viewer acting on her organisation's pool of 50, is refused usage with and without dryRun (403 ROLE_FORBIDDEN), and nothing is written", async () => {
    const org = `viewers-${randomUUID().slice(0, 8)}`;
    const pool = (await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: org, name: 'Viewers Ltd' } })).accountId;
    await newUserAccount(ctx, `vera-${org}`);
    await addMember(ctx, { organisationExternalId: org, userExternalId: `vera-${org}`, role: 'VIEWER' });
    await purchase(ctx, { accountId: pool, idempotencyKey: key(), actor: service, amount: 50n });
    const asVera = (query: string, idempotencyKey?: string) =>
      client(api.baseUrl, api.service)('POST', `/v1/accounts/${pool}/usage${query}`, {
        body: { charge: { action: 'image', quantity: 1 } },
        headers: { 'acting-member': `vera-${org}` },
        ...(idempotencyKey && { key: idempotencyKey }),
      });
    const before = await entryCount(ctx, pool);
    const replies = [await asVera('?dryRun=true'), await asVera('', key())];
    expect(replies.map((reply) => [reply.status, reply.body.error?.code])).toEqual([
      [403, 'ROLE_FORBIDDEN'],
      [403, 'ROLE_FORBIDDEN'],
    ]);
    expect([await entryCount(ctx, pool), await balanceOf(ctx, pool)]).toEqual([before, 50n]);
  });

  it('a READ token may not dry-run a write, as it may not write', async () => {
    const reply = await client(api.baseUrl, api.reader)('POST', `/v1/accounts/${accountId}/usage?dryRun=true`, { body: { charge: { action: 'chat', quantity: 1 } } });
    expect([reply.status, reply.body.error.code]).toEqual([403, 'FORBIDDEN']);
  });
});
