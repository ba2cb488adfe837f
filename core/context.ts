import { type PaymentGateway, paymentWebhook } from './billing/paymentGateway.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import type { ReadReplica } from './db/readReplica.js';
import type { WriteResult } from './ledger/writeSpec.js';
import { loadPlans, type PlanCatalog } from './plans/planCatalog.js';
import { loadPriceList, type PriceList } from './pricing/priceList.js';
import { type AdVerifierKeys, adVerifierKeys } from './rewards/adVerifierKeys.js';
import type { RewardSettings } from './rewards/rewardSettings.js';

/** What every core use-case runs against. */
export interface CoreContext {
  db: Database;
  priceList: PriceList;
  plans: PlanCatalog;
  /** Usage entries this close together (same activity and source) show as one row; default 5 minutes. */
  usageGroupWindowMs?: number;
  /** What one credit costs, shown beside the balance; a decimal string, e.g. "0.05". */
  costPerCredit?: { amount: string; currency: string };
  /** Charges auto-reload top-ups; without it auto-reload is off everywhere. */
  payments?: PaymentGateway;
  /** The ad network's verification keys, for rewarded-ad callbacks. */
  adKeys?: AdVerifierKeys;
  /** What rewards pay; defaults in rewardSettings.ts. */
  rewards?: Partial<RewardSettings>;
  /** Told about every ledger write, for metrics; core itself keeps none. */
  observer?: LedgerObserver;
  /** The hot standby reports are read from when it can answer them (readFromReplica); writes never go there. */
  replica?: ReadReplica;
}

export interface LedgerObserver {
  /** outcome: 'written', 'replayed', or the error code that refused it (INSUFFICIENT_CREDITS…). */
  ledgerWrite?(operation: string, outcome: string, seconds: number): void;
  /** After a write committed new entries (not on replays): chat notices listen here. Must not throw or block. */
  entriesWritten?(accountId: string, result: WriteResult): void;
}

/** One observer that tells each of several (metrics and chat notices, say). */
export function combineObservers(...observers: (LedgerObserver | undefined)[]): LedgerObserver {
  const present = observers.filter((o): o is LedgerObserver => o !== undefined);
  return {
    ledgerWrite: (operation, outcome, seconds) => present.forEach((o) => o.ledgerWrite?.(operation, outcome, seconds)),
    entriesWritten: (accountId, result) => present.forEach((o) => o.entriesWritten?.(accountId, result)),
  };
}

/** The context a process runs its use-cases in, from its configuration. */
export function createCoreContext(db: Database, config: Config): CoreContext {
  return {
    db,
    priceList: loadPriceList(config.PRICE_LIST_FILE),
    plans: loadPlans(config.PLANS_FILE),
    usageGroupWindowMs: config.USAGE_GROUP_WINDOW_MINUTES * 60_000,
    ...(config.COST_PER_CREDIT && { costPerCredit: config.COST_PER_CREDIT }),
    adKeys: adVerifierKeys(config.AD_VERIFIER_KEYS_URL),
    rewards: { discordLink: config.LINK_REWARD_CREDITS, ad: config.AD_REWARD_CREDITS, adDailyCap: config.AD_REWARD_DAILY_CAP },
    ...(config.PAYMENT_WEBHOOK_URL &&
      config.PAYMENT_WEBHOOK_SECRET && {
        payments: paymentWebhook({ url: config.PAYMENT_WEBHOOK_URL, secret: config.PAYMENT_WEBHOOK_SECRET, timeoutMs: config.PAYMENT_WEBHOOK_TIMEOUT_MS }),
      }),
  };
}
