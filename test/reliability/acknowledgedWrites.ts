import { expect } from 'vitest';
import type { Database } from '../../core/db/database.js';
import { verifyLedger } from '../../core/ledger/verify.js';

/** A write the client sent (under an idempotency key starting `w-`): where, and how much. */
export interface SentWrite {
  accountId: string;
  amount: bigint;
}

/**
 * What every crash test ends with: the invariants hold, every acknowledged write is in the
 * ledger exactly once, and every entry is a whole write the client sent (acknowledged or not).
 */
export async function expectAcknowledgedWritesOnce(
  db: Database,
  sent: ReadonlyMap<string, SentWrite>,
  acknowledged: ReadonlySet<string>,
): Promise<{ written: number }> {
  const report = await verifyLedger(db);
  expect(report.checks.filter((c) => c.violations.length > 0)).toEqual([]);
  const entries = await db.sql.query<{ idempotency_key: string; account_id: string; amount: string }>(
    `SELECT idempotency_key, account_id, amount::text FROM entries WHERE idempotency_key LIKE 'w-%'`,
  );
  const written = new Map(entries.map((e) => [e.idempotency_key, e]));
  const lost = [...acknowledged].filter((key) => !written.has(key));
  expect({ lost: lost.length, doubled: entries.length - written.size }).toEqual({ lost: 0, doubled: 0 });
  for (const [key, entry] of written) {
    const write = sent.get(key);
    expect(write, `${key} was never sent`).toBeDefined();
    expect(entry).toMatchObject({ account_id: write!.accountId, amount: String(write!.amount) });
  }
  return { written: entries.length };
}
