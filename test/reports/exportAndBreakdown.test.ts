import { describe, expect, it } from 'vitest';
import { adjust } from '../../core/ledger/adjust.js';
import { grant, writeGrant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { getBalanceBreakdown } from '../../core/reports/balanceBreakdown.js';
import { exportActivityCsv } from '../../core/reports/exportActivity.js';
import { engines } from '../support/databases.js';
import { expectError, inDays, key, newUserAccount, service, staff, useFreshLedger } from '../support/scenario.js';

async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) text += chunk;
  return text;
}

/** A small RFC 4180 reader: enough to prove the export is well-formed. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && text[i + 1] === '\n') row.push(field), rows.push(row), (row = []), (field = ''), i++;
    else field += c;
  }
  return rows;
}

describe.each(engines)('CSV export and the balance breakdown on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('exports every entry oldest first, across batches, quoting and defusing free text', async () => {
    const accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 5000n });
    await adjust(ctx, { accountId, idempotencyKey: key(), actor: staff, amount: 3n, reason: '=HYPERLINK("x"), said "sorry"\nline two' });
    for (let i = 0; i < 1050; i++) {
      await spend(ctx, { accountId, idempotencyKey: `csv-${i}`, actor: service, charge: { action: 'chat' } });
    }
    const rows = parseCsv(await collect(exportActivityCsv(ctx, { accountId })));
    expect(rows[0]!.slice(0, 4)).toEqual(['date', 'seq', 'type', 'activity']);
    expect(rows).toHaveLength(1 + 1052);
    expect(rows.slice(1).map((r) => Number(r[1]))).toEqual(Array.from({ length: 1052 }, (_, i) => i + 1));
    const header = rows[0]!;
    const adjustment = Object.fromEntries(header.map((h, i) => [h, rows[2]![i]]));
    expect(adjustment).toMatchObject({ type: 'ADJUSTMENT', credits: '3', balance_after: '5003', note: `'=HYPERLINK("x"), said "sorry"\nline two` });
    expect(rows.at(-1)![header.indexOf('balance_after')]).toBe(String(5003 - 1050));

    const used = parseCsv(await collect(exportActivityCsv(ctx, { accountId, filter: 'ADJUSTMENTS' })));
    expect(used).toHaveLength(2);
    await expectError(collect(exportActivityCsv(ctx, { accountId, filter: 'NOPE' as never })), 'VALIDATION_FAILED');
  });

  it('/credits: available, what it is made of and when each part expires, used this month, in flight', async () => {
    const accountId = await newUserAccount(ctx);
    const weekly = inDays(3);
    await grant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'WEEKLY_GRANT', bucket: 'WEEKLY', amount: 12n, expiresAt: weekly });
    await writeGrant(ctx, { accountId, idempotencyKey: key(), actor: service, type: 'DISCORD_REWARD', bucket: 'REWARD', amount: 5n });
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 100n });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 2 } });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { amount: 4n, held: 2n, category: 'Submission', description: 'Render' } });
    const credits = await getBalanceBreakdown({ ...ctx, costPerCredit: { amount: '0.05', currency: 'USD' } }, { accountId });
    expect(credits.available).toBe(107n);
    expect(credits.kinds.map((k) => [k.kind, k.remaining, k.nextExpiry])).toEqual([
      ['WEEKLY', 2n, weekly],
      ['REWARD', 5n, null],
      ['PURCHASED', 100n, null],
    ]);
    expect(credits.usedThisPeriod).toMatchObject({ used: 10n, transactions: 2 });
    expect(credits.inFlightDeposits).toEqual({ count: 1, amount: 4n });
    expect(credits.costPerCredit).toEqual({ amount: '0.05', currency: 'USD' });
  });
});
