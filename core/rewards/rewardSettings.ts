import type { CoreContext } from '../context.js';

export interface RewardSettings {
  /** Seed 000: "the one-time 5 credits for linking your Discord account". */
  discordLink: bigint;
  /** Credits one verified rewarded-ad view pays. */
  ad: bigint;
  /** Ad rewards one account may receive per UTC day. */
  adDailyCap: number;
}

export const defaultRewards: RewardSettings = { discordLink: 5n, ad: 2n, adDailyCap: 5 };

export function rewardSettings(ctx: CoreContext): RewardSettings {
  return { ...defaultRewards, ...ctx.rewards };
}
