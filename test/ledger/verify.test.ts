import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoreContext } from '../../core/context.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { verifyLedger } from '../../core/ledger/verify.js';
import { databaseUrl, freshContext } from '../support/databases.js';
import { key, newUserAccount, service } from '../support/scenario.js';

/** The verifier must catch a ledger that lies, whatever broke it. Tampering needs PostgreSQL's superuser. */
describe('creditkeeper verify on a tampered PostgreSQL ledger', () => {
  let ctx: CoreContext;
  let accountId: string;
  beforeAll(async () => {
    ctx = await freshContext('postgres');
    accountId = await newUserAccount(ctx);
    await purchase(ctx, { accountId, idempotencyKey: key(), actor: service, amount: 50n });
    await spend(ctx, { accountId, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 2 } });
  });
  afterAll(async () => {
    await ctx.db.close();
  });

  /** Runs `creditkeeper verify` in its own process against this test's database. */
  async function verifyFromCli() {
    return spawnSync(process.execPath, ['--import', 'tsx', 'cli/creditkeeper.ts', 'verify'], {
      env: { ...process.env, DATABASE_URL: await databaseUrl(ctx) },
      encoding: 'utf8',
    });
  }

  it('passes on a sound ledger, from the CLI too', async () => {
    expect((await verifyLedger(ctx.db)).ok).toBe(true);
    const cli = await verifyFromCli();
    expect(cli.stdout).toContain('ledger sound');
    expect(cli.status).toBe(0);
  });

  it('reports each broken invariant and exits non-zero', async () => {
    // Bypass the append-only trigger and the application, as a bad hand edit would.
    await ctx.db.sql.exec(`
      SET session_replication_role = replica;
      UPDATE entries SET amount = amount - 1 WHERE account_id = '${accountId}' AND seq = 2;
      UPDATE accounts SET balance = balance + 7 WHERE id = '${accountId}';
      SET session_replication_role = DEFAULT;`);
    const report = await verifyLedger(ctx.db);
    expect(report.ok).toBe(false);
    const broken = report.checks.filter((c) => c.violations.length > 0).map((c) => c.name);
    expect(broken).toEqual(
      expect.arrayContaining(['balance-equals-entries', 'balance-equals-buckets', 'balance-after-chain', 'account-matches-last-entry', 'entry-equals-movements']),
    );
    const cli = await verifyFromCli();
    expect(cli.status).toBe(1);
    expect(cli.stdout).toContain('FAIL balance-equals-entries');
    expect(cli.stdout).toContain('INVARIANTS BROKEN');
  });
});
