import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { subscribe } from '../../core/plans/subscribe.js';
import { getBalanceBreakdown } from '../../core/reports/balanceBreakdown.js';
import { getMonthlySummary } from '../../core/reports/monthlySummary.js';
import { usedSince } from '../../core/reports/usedSince.js';
import { engines } from '../support/databases.js';
import { expectError, key, newUserAccount, service, useFreshLedger } from '../support/scenario.js';

/** The breakdown reads in one statement: these pin it to the reports it stands for, and to their errors. */
describe.each(engines)('the balance breakdown read on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('counts the month as the monthly summary does and the plan period as usedSince does: 2 chats before the plan, 3 in it, 1 late from before it', async () => {
    const accountId = await newUserAccount(ctx);
    const { createdAt: opened } = await ctx.db.prisma.account.findUniqueOrThrow({ where: { id: accountId } });
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 10n });
    for (let i = 0; i < 2; i++) await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat' } });
    const { subscription } = await subscribe(ctx, { accountId, idempotencyKey: key(), actor: service, plan: 'starter' });
    for (let i = 0; i < 3; i++) await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat' } });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'chat' }, occurredAt: new Date(opened.getTime() + 1) });

    const breakdown = await getBalanceBreakdown(ctx, { accountId, timeZone: 'Pacific/Kiritimati' });
    const month = (await getMonthlySummary(ctx, { accountId, timeZone: 'Pacific/Kiritimati' })).months.find((m) => m.current)!;
    expect(breakdown.usedThisPeriod).toEqual({ period: month.month, used: month.used, transactions: month.transactions });
    expect(breakdown.plan!.usedThisPeriod).toBe((await usedSince(ctx, accountId, subscription.periodStart)).used);
    expect(breakdown.plan!.usedThisPeriod).toBe(3n);
    expect(breakdown.available).toBe(8n + 150n - 4n);
  });

  it('a stored zone PostgreSQL refuses is bad input naming it; an unknown account is not found, whatever zone is asked', async () => {
    const accountId = await newUserAccount(ctx);
    await ctx.db.sql.query('UPDATE users SET time_zone = $2 FROM accounts a WHERE a.id = $1::uuid AND users.id = a.user_id', [accountId, 'Mars/Olympus_Mons']);
    const refused = await expectError(getBalanceBreakdown(ctx, { accountId }), 'VALIDATION_FAILED');
    expect(refused.message).toBe('timeZone: "Mars/Olympus_Mons" is not a known time zone');
    expect((await getBalanceBreakdown(ctx, { accountId, timeZone: 'Europe/Paris' })).available).toBe(0n);

    await expectError(getBalanceBreakdown(ctx, { accountId: randomUUID(), timeZone: 'Europe/Paris' }), 'ACCOUNT_NOT_FOUND');
  });
});
