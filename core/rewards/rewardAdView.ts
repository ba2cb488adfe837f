import { verify } from 'node:crypto';
import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput } from '../input.js';
import { defaultPriority } from '../ledger/entryTypes.js';
import { ledgerWrite, type WriteResult } from '../ledger/ledgerWrite.js';
import { rewardSettings } from './rewardSettings.js';

export const adCallbackInput = z.strictObject({
  /** The callback's query string exactly as received (the signature covers its bytes, in order). */
  query: z.string().min(1).max(8_000),
});

const callbackFields = z.object({
  transaction_id: z.string().min(1).max(200).regex(/^[A-Za-z0-9._:\-]+$/),
  user_id: z.string().trim().min(1).max(200),
  key_id: z.string().min(1).max(50),
  signature: z.string().min(1).max(1_000),
  ad_unit: z.string().max(200).optional(),
  ad_network: z.string().max(200).optional(),
});

/**
 * A rewarded-ad view, from the ad network's server-side verification callback (modelled on
 * AdMob's): the query string up to `&signature=` is signed with ECDSA P-256/SHA-256 by one of the
 * network's published keys (`key_id`), the signature and key id coming last. A verified view pays
 * the configured reward once per transaction id ("Ad reward"), up to the daily cap per account.
 * Anything else pays nothing and says why (AD_CALLBACK_INVALID, AD_REWARD_DAILY_CAP).
 */
export async function rewardAdView(ctx: CoreContext, input: z.input<typeof adCallbackInput>): Promise<WriteResult> {
  const { query } = parseInput(adCallbackInput, input);
  if (!ctx.adKeys) throw new CreditkeeperError('AD_CALLBACK_INVALID', 'Ad rewards are not configured');
  const signedPart = query.split('&signature=')[0]!;
  const fields = callbackFields.safeParse(Object.fromEntries(new URLSearchParams(query)));
  if (!fields.success || signedPart === query) throw invalid('the callback is missing transaction_id, user_id, key_id or signature');
  const { transaction_id: transactionId, user_id: userExternalId, key_id: keyId, signature } = fields.data;
  const key = await ctx.adKeys.key(keyId);
  if (!key) throw invalid(`no published key ${keyId}`);
  const signatureBytes = Buffer.from(signature, 'base64url');
  if (!verify('sha256', Buffer.from(signedPart), { key, dsaEncoding: 'der' }, signatureBytes)) throw invalid('the signature does not verify');

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
        source: { kind: 'ad', id: transactionId, ...(fields.data.ad_unit && { label: `Ad unit ${fields.data.ad_unit}` }) },
        actor: { kind: 'SYSTEM' },
      });
    },
  });
}

function invalid(why: string): CreditkeeperError {
  return new CreditkeeperError('AD_CALLBACK_INVALID', `Ad callback refused: ${why}`);
}
