export interface RewardSettings {
  /** "The one-time 5 credits for linking your Discord account". */
  discordLink: bigint;
  /** Credits one verified rewarded-ad view pays. */
  ad: bigint;
  /** Ad rewards one account may receive per UTC day. */
  adDailyCap: number;
}

export const defaultRewards: RewardSettings = { discordLink: 5n, ad: 2n, adDailyCap: 5 };

/** The context's settings over the defaults (takes only `rewards`, so config.ts can read the defaults without the context). */
export function rewardSettings(ctx: { rewards?: Partial<RewardSettings> | undefined }): RewardSettings {
  return { ...defaultRewards, ...ctx.rewards };
}
