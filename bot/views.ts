import type { AccountSummary } from '../core/accounts/searchAccounts.js';
import type { IdentityProvider } from '../core/db/generated/enums.js';
import type { ErrorCode } from '../core/errors.js';
import type { LinkResult } from '../core/identity/claimLinkCode.js';
import type { WriteResult } from '../core/ledger/ledgerWrite.js';
import type { UsageQuote } from '../core/ledger/quoteUsage.js';
import type { ScheduledWriteView } from '../core/ledger/scheduledWrites.js';
import type { ActivityPage } from '../core/reports/activity.js';
import type { BalanceBreakdown } from '../core/reports/balanceBreakdown.js';
import type { DailyUsage } from '../core/reports/dailyUsage.js';
import type { MonthlySummary } from '../core/reports/monthlySummary.js';
import type { WhyExplanation } from '../core/reports/why.js';

/**
 * A command's answer before a transport renders it; personal, shown only to the asker. All its times are in
 * `timeZone`, named: the reader's where the transport knows it, else the account owner's.
 */
export type View =
  | { kind: 'credits'; account: string; breakdown: BalanceBreakdown; timeZone: string }
  | { kind: 'activity'; account: string; filter: string; page: ActivityPage; timeZone: string }
  | { kind: 'why'; account: string; explanation: WhyExplanation; timeZone: string }
  | { kind: 'usage'; account: string; daily: DailyUsage; monthly: MonthlySummary; timeZone: string }
  | { kind: 'posted'; what: string; result: WriteResult }
  | { kind: 'quote'; account: string; quote: UsageQuote }
  /** Dated grants and purchases: one just scheduled (again, when replayed) or cancelled, or the pending list. */
  | { kind: 'scheduled'; account: string; accountId: string; change: 'scheduled' | 'replayed' | 'cancelled' | null; scheduled: ScheduledWriteView[]; timeZone: string }
  | ({ kind: 'linked'; provider: IdentityProvider } & LinkResult)
  | { kind: 'lookup'; search: string; accounts: AccountSummary[] }
  | { kind: 'error'; code: ErrorCode; text: string };
