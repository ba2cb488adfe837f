import type { Database } from './db/database.js';
import type { PriceList } from './pricing/priceList.js';

/** What every core use-case runs against. */
export interface CoreContext {
  db: Database;
  priceList: PriceList;
  /** Usage entries this close together (same activity and source) show as one row; default 5 minutes. */
  usageGroupWindowMs?: number;
}
