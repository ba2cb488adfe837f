import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput } from '../input.js';
import { defaultPriority } from '../ledger/entryTypes.js';
import { ledgerWrite, type WriteResult } from '../ledger/ledgerWrite.js';
import { rewardSettings } from './rewardSettings.js';
import { verifyAdCallback } from './verifyAdCallback.js';

export const adCallbackInput = z.strictObject({
  /** The callback's query string exactly as received (the signature covers its bytes, in order). */
  query: z.string().min(1).max(8_000),
});

/**
 * Pays a verified ad view once per transaction id, up to the daily cap; every field used comes from the signed
 * part of the callback (verifyAdCallback.ts).
 */
export async function rewardAdView(ctx: CoreContext, input: z.input<typeof adCallbackInput>): Promise<WriteResult> {
  const { query } = parseInput(adCallbackInput, input);
  if (!ctx.adKeys) throw new CreditkeeperError('AD_CALLBACK_INVALID', 'Ad rewards are not configured');
  const signed = await verifyAdCallback(ctx.adKeys, query);
  const { transaction_id: transactionId, user_id: userExternalId } = signed;

  const [account] = await ctx.db.sql.query<{ id: string }>('SELECT a.id FROM accounts a JOIN users u ON u.id = a.user_id WHERE u.external_id = $1', [userExternalId]);
  if (!account) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account for user ${userExternalId}`);
  const { ad: amount, adDailyCap } = rewardSettings(ctx);
  const request = { actor: { kind: 'SYSTEM' as const }, transactionId };
  return ledgerWrite(ctx, {
    accountId: account.id,
    idempotencyKey: `ad:${transactionId}`,
    operation: 'adReward',
    request,
    write: async (ledger, tx) => {
      // Read inside the write: a concurrent reward on this account makes the write retry under the lock.
      const [today] = await tx.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM entries WHERE account_id = $1::uuid AND type = 'AD_REWARD'
           AND created_at >= date_trunc('day', $2::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`,
        [account.id, ledger.now],
      );
      if (today!.count >= adDailyCap) {
        throw new CreditkeeperError('AD_REWARD_DAILY_CAP', `${today!.count} ad rewards today already: the daily cap is ${adDailyCap}`, { cap: adDailyCap });
      }
      ledger.post({
        type: 'AD_REWARD',
        description: 'Ad reward',
        movements: [ledger.addBucket('REWARD', amount, null, defaultPriority.REWARD)],
        source: { kind: 'ad', id: transactionId, ...(signed.ad_unit && { label: `Ad unit ${signed.ad_unit}` }) },
        actor: { kind: 'SYSTEM' },
      });
    },
  });
}
