import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { loadPriceList, type PriceList } from './pricing/priceList.js';

/** What every core use-case runs against. */
export interface CoreContext {
  db: Database;
  priceList: PriceList;
  /** Usage entries this close together (same activity and source) show as one row; default 5 minutes. */
  usageGroupWindowMs?: number;
  /** Seed 004: what one credit costs, shown beside the balance; a decimal string, e.g. "0.05". */
  costPerCredit?: { amount: string; currency: string };
  /** Told about every ledger write, for metrics; core itself keeps none. */
  observer?: LedgerObserver;
}

export interface LedgerObserver {
  /** outcome: 'written', 'replayed', or the error code that refused it (INSUFFICIENT_CREDITS…). */
  ledgerWrite(operation: string, outcome: string, seconds: number): void;
}

/** The context a process runs its use-cases in, from its configuration. */
export function createCoreContext(db: Database, config: Config): CoreContext {
  return {
    db,
    priceList: loadPriceList(config.PRICE_LIST_FILE),
    usageGroupWindowMs: config.USAGE_GROUP_WINDOW_MINUTES * 60_000,
    ...(config.COST_PER_CREDIT && { costPerCredit: config.COST_PER_CREDIT }),
  };
}
