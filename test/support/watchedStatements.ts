import type { CoreContext } from '../../core/context.js';
import type { Database } from '../../core/db/database.js';
import type { SqlRunner } from '../../core/db/sqlRunner.js';

/**
 * The ledger's statements a context sends outside transactions: each state read and each flush,
 * by the accounts in it; `failFlush` makes the next flush of several accounts fail. The context
 * is a new handle on the same database, so it starts knowing no account.
 */
export function watched(ctx: CoreContext): { ctx: CoreContext; reads: string[][]; flushes: string[][]; failFlush: () => void } {
  const reads: string[][] = [];
  const flushes: string[][] = [];
  let failNext = false;
  const sql: SqlRunner = {
    ...ctx.db.sql,
    query: async (text, params, name) => {
      if (name === 'creditkeeper_read_state') reads.push((JSON.parse(params![0] as string) as { id: string }[]).map((account) => account.id));
      if (name?.startsWith('creditkeeper_flush')) {
        const accounts = (JSON.parse(params![0] as string) as { accounts: { id: string }[] }).accounts.map((account) => account.id);
        if (failNext && accounts.length > 1) {
          failNext = false;
          throw new Error('connection reset by peer');
        }
        flushes.push(accounts);
      }
      return ctx.db.sql.query(text, params, name);
    },
  };
  const db: Database = { ...ctx.db, sql };
  return { ctx: { ...ctx, db }, reads, flushes, failFlush: () => (failNext = true) };
}
