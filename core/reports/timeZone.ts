import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';

/**
 * The time zone a report is shown in: the one asked for, else the account owner's (a user's own,
 * or UTC for organisations and clients).
 */
export async function reportTimeZone(ctx: CoreContext, accountId: string, asked: string | undefined): Promise<string> {
  const [row] = await ctx.db.sql.query<{ time_zone: string | null }>(
    'SELECT u.time_zone FROM accounts a LEFT JOIN users u ON u.id = a.user_id WHERE a.id = $1::uuid',
    [accountId],
  );
  if (!row) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`);
  return asked ?? row.time_zone ?? 'UTC';
}

/** PostgreSQL and the runtime's Intl may know slightly different zone lists: either refusing is bad input. */
export async function inTimeZone<T>(timeZone: string, query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (error) {
    if ((error as { code?: string }).code === '22023' && /time zone/i.test((error as Error).message)) {
      throw new CreditkeeperError('VALIDATION_FAILED', `timeZone: "${timeZone}" is not a known time zone`, {
        issues: [{ path: 'timeZone', message: 'is not a known time zone' }],
      });
    }
    throw error;
  }
}
