import { z } from 'zod';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { date, nonNegativeCredits, parseInput, uuid } from '../input.js';
import type { WhyExplanation } from './whyExplanation.js';
import { findings } from './whyFindings.js';
import { explainGap } from './whyGap.js';
import { startingPoint } from './whyStart.js';
import { attribution, groupsSince } from './whyWindow.js';

export type { WhyAttribution, WhyExplanation, WhyFinding, WhyGap, WhyGroup, WhyNote } from './whyExplanation.js';

export const whyInput = z.strictObject({
  accountId: uuid,
  /** Explain from this moment; by default from the most recent plan or weekly grant. */
  since: date.optional(),
  /** The balance the user expected: Creditkeeper finds the entries that explain the gap. */
  expectedBalance: nonNegativeCredits.optional(),
});

/**
 * "Where did my credits go?": the balance at the start, every change since in groups, the balance
 * now. One REPEATABLE READ snapshot, so a write landing meanwhile cannot make it disagree with itself.
 */
export async function explainBalance(ctx: CoreContext, input: z.input<typeof whyInput>): Promise<WhyExplanation> {
  const request = parseInput(whyInput, input);
  return ctx.db.sql.transaction(async (tx) => {
    await tx.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const [account] = await tx.query<{ balance: string; outstanding: string; last_seq: string; owner_kind: string; now: Date }>(
      'SELECT balance::text, outstanding::text, last_seq::text, owner_kind, now() AS now FROM accounts WHERE id = $1::uuid',
      [request.accountId],
    );
    if (!account) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${request.accountId}`);
    const lastSeq = BigInt(account.last_seq);
    const start = await startingPoint(tx, request.accountId, request.since, lastSeq);
    const groups = await groupsSince(tx, request.accountId, start.seq);
    const total = groups.reduce((sum, g) => sum + g.amount, 0n);
    const balance = BigInt(account.balance);
    const explanation: WhyExplanation = {
      accountId: request.accountId,
      start: { reason: start.reason, at: start.at, balance: start.balance, grant: start.grant },
      end: { at: new Date(account.now), balance, outstanding: BigInt(account.outstanding) },
      groups,
      entriesCounted: groups.reduce((sum, g) => sum + g.count, 0),
      total,
      addsUp: start.balance + total === balance,
      findings: await findings(tx, request.accountId, start.seq, groups, BigInt(account.outstanding)),
      attribution: account.owner_kind === 'USER' ? null : await attribution(tx, request.accountId, start.seq),
      gap: null,
    };
    if (request.expectedBalance !== undefined) {
      explanation.gap = {
        expected: request.expectedBalance,
        difference: balance - request.expectedBalance,
        ...(await explainGap(tx, request.accountId, request.expectedBalance, balance, start.seq, lastSeq)),
      };
    }
    return explanation;
  });
}
