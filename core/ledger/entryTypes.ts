import type { BucketKind, EntryType } from '../db/generated/enums.js';

/**
 * What each entry type means: the label users see in the log, the filter it falls under and how it counts
 * in usage rollups (usage, usageCorrection of earlier usage, or another addition / removal).
 */
export type EntryClass = 'usage' | 'usageCorrection' | 'addition' | 'removal';
export type ActivityFilter = 'ADDED' | 'USED' | 'ADJUSTMENTS';

export const entryTypes: Record<EntryType, { label: string; class: EntryClass; filter: ActivityFilter }> = {
  USAGE: { label: 'Usage', class: 'usage', filter: 'USED' },
  DEPOSIT: { label: 'Submission', class: 'usage', filter: 'USED' },
  DEPOSIT_RECONCILIATION: { label: 'Deposit reconciliation', class: 'usageCorrection', filter: 'USED' },
  DEPOSIT_VOID: { label: 'Submission refund', class: 'usageCorrection', filter: 'ADJUSTMENTS' },
  REFUND: { label: 'Credit refund', class: 'usageCorrection', filter: 'ADJUSTMENTS' },
  PLAN_GRANT: { label: 'Monthly grant', class: 'addition', filter: 'ADDED' },
  WEEKLY_GRANT: { label: 'Weekly grant', class: 'addition', filter: 'ADDED' },
  PURCHASE: { label: 'Top-up purchase', class: 'addition', filter: 'ADDED' },
  AUTO_RELOAD: { label: 'Auto reload', class: 'addition', filter: 'ADDED' },
  DISCORD_REWARD: { label: 'Discord reward', class: 'addition', filter: 'ADDED' },
  AD_REWARD: { label: 'Ad reward', class: 'addition', filter: 'ADDED' },
  SIGNUP_BONUS: { label: 'Signup bonus', class: 'addition', filter: 'ADDED' },
  MANUAL_CREDIT: { label: 'Manual credit', class: 'addition', filter: 'ADDED' },
  PRORATION: { label: 'Mid cycle proration', class: 'addition', filter: 'ADJUSTMENTS' },
  PURCHASE_REVERSAL: { label: 'Affiliate refund', class: 'removal', filter: 'ADJUSTMENTS' },
  ADJUSTMENT: { label: 'Admin adjustment', class: 'removal', filter: 'ADJUSTMENTS' },
  WRITE_OFF: { label: 'Credit writeoff', class: 'removal', filter: 'ADJUSTMENTS' },
  EXPIRY: { label: 'Expired credits', class: 'removal', filter: 'ADJUSTMENTS' },
  OUTSTANDING_SETTLEMENT: { label: 'Outstanding balance settled', class: 'removal', filter: 'ADJUSTMENTS' },
  VOID: { label: 'Voided credits', class: 'removal', filter: 'ADJUSTMENTS' },
};

/**
 * Types staff or the host may grant; the rewards are not among them, since only their own flows (with their
 * once-only rules) pay them.
 */
export const grantTypes = [
  'PLAN_GRANT',
  'WEEKLY_GRANT',
  'SIGNUP_BONUS',
  'MANUAL_CREDIT',
  'PRORATION',
] as const satisfies readonly EntryType[];

/** The rewards: each paid by its own flow only (claimLinkCode, rewardAdView). */
export const rewardTypes = ['DISCORD_REWARD', 'AD_REWARD'] as const satisfies readonly EntryType[];

/**
 * Lower is drawn first among buckets expiring at the same moment (or never): free and plan
 * credits go before rewards and bonuses, purchased credits last because they never expire.
 */
export const defaultPriority: Record<BucketKind, number> = {
  WEEKLY: 10,
  PLAN: 20,
  PROMO: 30,
  REWARD: 40,
  BONUS: 50,
  PURCHASED: 90,
};
