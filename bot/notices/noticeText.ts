import type { WriteResult } from '../../core/ledger/ledgerWrite.js';
import { credits, signedCredits } from '../chatFormat.js';
import type { View } from '../views.js';

/** Entry types that are a reward the user earned: worth telling them. */
const rewardTypes = new Set(['DISCORD_REWARD', 'AD_REWARD']);

/** The balance before the whole write: it may have posted an expiry or a settlement beside its own entry. */
export function balanceBefore(result: WriteResult): bigint {
  return result.entries.reduce((balance, e) => balance - e.amount, result.balance);
}

/**
 * What a write is worth telling the owner: each reward, and a low balance only on the write that crosses a
 * level (one notice however many it crossed).
 */
export function writeNotices(result: WriteResult, lowBalanceLevels: readonly bigint[]): string[] {
  const rewards = result.entries
    .filter((e) => rewardTypes.has(e.type))
    .map((e) => `You got ${signedCredits(e.amount)} credits: ${e.description}. Your balance is now ${credits(e.balanceAfter)}.`);
  const before = balanceBefore(result);
  const crossedBelow = lowBalanceLevels.some((level) => before >= level && result.balance < level);
  const low = crossedBelow ? [`Your balance is low: ${credits(result.balance)} credits left. Top up to keep going.`] : [];
  return [...rewards, ...low];
}

export function linkedNotice(view: Extract<View, { kind: 'linked' }>): string {
  return `Your ${view.provider === 'DISCORD' ? 'Discord' : 'Slack'} account is now linked to ${view.userExternalId}: /credits shows your balance here.`;
}
