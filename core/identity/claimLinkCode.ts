import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput } from '../input.js';
import { writeGrant } from '../ledger/grant.js';
import { rewardSettings } from '../rewards/rewardSettings.js';
import { hashLinkCode } from './createLinkCode.js';
import { chatIdentity } from './provider.js';

export const claimLinkCodeInput = z.strictObject({
  ...chatIdentity,
  code: z.string().trim().min(4).max(20),
});

export interface LinkResult {
  userExternalId: string;
  /** Credits the link paid: the Discord reward the first time, 0 ever after. */
  rewarded: bigint;
  balance: bigint | null;
}

/**
 * Links a chat identity and pays the Discord reward once per Discord account and once per user, ever. The claim
 * commits with the link and the credits follow under a key derived from it, so a crash is paid by the next attempt.
 */
export async function claimLinkCode(ctx: CoreContext, input: z.input<typeof claimLinkCodeInput>): Promise<LinkResult> {
  const { provider, externalId, code } = parseInput(claimLinkCodeInput, input);
  const user = await ctx.db.sql.transaction(async (tx) => {
    const [claimed] = await tx.query<{ user_id: string; external_id: string }>(
      `UPDATE link_codes c SET used_at = clock_timestamp() FROM users u
       WHERE c.code_hash = $1 AND c.provider = $2::"IdentityProvider" AND c.used_at IS NULL
         AND c.expires_at > clock_timestamp() AND u.id = c.user_id
       RETURNING c.user_id, u.external_id`,
      [hashLinkCode(code), provider],
    );
    if (!claimed) throw new CreditkeeperError('LINK_CODE_INVALID', 'That code is unknown, used or expired');
    // Serialise links of this identity, so the "linked elsewhere" check and the insert agree.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`link:${provider}:${externalId}`]);
    const [current] = await tx.query<{ user_id: string }>(
      `SELECT user_id FROM linked_identities WHERE provider = $1::"IdentityProvider" AND external_id = $2 AND unlinked_at IS NULL`,
      [provider, externalId],
    );
    if (current && current.user_id !== claimed.user_id) {
      throw new CreditkeeperError('IDENTITY_LINKED_ELSEWHERE', 'This chat account is linked to another user');
    }
    if (!current) {
      // A user has one live link per provider: a new one replaces the old.
      await tx.query(
        `UPDATE linked_identities SET unlinked_at = clock_timestamp() WHERE user_id = $1::uuid AND provider = $2::"IdentityProvider" AND unlinked_at IS NULL`,
        [claimed.user_id, provider],
      );
      await tx.query(`INSERT INTO linked_identities (user_id, provider, external_id) VALUES ($1::uuid, $2::"IdentityProvider", $3)`, [
        claimed.user_id,
        provider,
        externalId,
      ]);
    }
    await tx.query(
      `INSERT INTO link_rewards (provider, external_id, user_id) VALUES ($1::"IdentityProvider", $2, $3::uuid) ON CONFLICT DO NOTHING`,
      [provider, externalId, claimed.user_id],
    );
    return claimed;
  });
  return { userExternalId: user.external_id, ...(await payLinkReward(ctx, user.user_id, provider, externalId)) };
}

async function payLinkReward(ctx: CoreContext, userId: string, provider: string, externalId: string): Promise<{ rewarded: bigint; balance: bigint | null }> {
  const amount = rewardSettings(ctx).discordLink;
  if (provider !== 'DISCORD' || amount === 0n) return { rewarded: 0n, balance: null };
  const [claim] = await ctx.db.sql.query<{ account_id: string | null }>(
    `SELECT a.id AS account_id FROM link_rewards r LEFT JOIN accounts a ON a.user_id = r.user_id
     WHERE r.provider = 'DISCORD' AND r.external_id = $1 AND r.user_id = $2::uuid`,
    [externalId, userId],
  );
  if (!claim?.account_id) return { rewarded: 0n, balance: null };
  const result = await writeGrant(ctx, {
    accountId: claim.account_id,
    idempotencyKey: `link-reward:discord:${externalId}`,
    actor: { kind: 'SYSTEM' },
    type: 'DISCORD_REWARD',
    bucket: 'REWARD',
    amount,
    description: 'Discord reward',
    source: { kind: 'discord', id: externalId, label: 'Linked Discord account' },
  });
  return { rewarded: result.replayed ? 0n : amount, balance: result.balance };
}
