import type { CoreContext, LedgerObserver } from '../../core/context.js';
import type { IdentityProvider } from '../../core/db/generated/enums.js';
import { chatIdentitiesOfAccount } from '../../core/identity/chatIdentitiesOfAccount.js';
import type { ChatIdentity } from '../../core/identity/provider.js';
import type { Logger } from '../../core/logger.js';
import type { View } from '../views.js';
import type { WriteResult } from '../../core/ledger/writeSpec.js';
import { listBalanceThresholds } from '../../core/thresholds/listBalanceThresholds.js';
import { balanceBefore, linkedNotice, writeNotices } from './noticeText.js';

/** Sends a direct message to one person on one transport. */
export type DirectMessageSender = (externalId: string, text: string) => Promise<void>;

export interface ChatNotifierOptions {
  /** One per running transport (startChat adds them with sendVia); identities on others are skipped. */
  senders?: Partial<Record<IdentityProvider, DirectMessageSender>>;
  /** The alert level of accounts that set none of their own (LOW_BALANCE_THRESHOLD). */
  lowBalanceThreshold: bigint;
  /** Tries per message, the first included; then it is dropped (and logged). */
  attempts?: number;
  /** The wait before the second try, doubling after each failure. */
  firstRetryDelayMs?: number;
}

/**
 * Direct messages about writes, sent later in the background so a slow or failing chat API never slows or fails
 * a write; a failed send is retried a few times, then logged.
 */
export class ChatNotifier {
  readonly observer: LedgerObserver;
  private readonly pending = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly attempts: number;
  private readonly firstRetryDelayMs: number;
  private readonly senders: Partial<Record<IdentityProvider, DirectMessageSender>>;

  constructor(
    private readonly ctx: CoreContext,
    private readonly logger: Logger,
    options: ChatNotifierOptions,
  ) {
    this.attempts = options.attempts ?? 5;
    this.firstRetryDelayMs = options.firstRetryDelayMs ?? 2_000;
    this.senders = { ...options.senders };
    this.observer = {
      entriesWritten: (accountId, result) => {
        // With no transport running there is no one to tell: no lookup either.
        if (Object.keys(this.senders).length === 0) return;
        this.track(this.noticesOf(accountId, result, options.lowBalanceThreshold).then((notices) => (notices.length > 0 ? this.toOwnerOf(accountId, notices) : undefined)));
      },
    };
  }

  /** Sends this provider's notices with `send` (a transport that has started). */
  sendVia(provider: IdentityProvider, send: DirectMessageSender): void {
    this.senders[provider] = send;
  }

  /** After /link: tell the person where they linked from, on that transport. */
  linked(identity: ChatIdentity, view: Extract<View, { kind: 'linked' }>): void {
    this.track(this.deliver(identity, linkedNotice(view)));
  }

  /** Resolves once every message under way has been sent or given up on. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Stops retrying (waiting sends are dropped) and waits for sends in flight. */
  async close(): Promise<void> {
    this.stopping.abort();
    await this.idle();
  }

  private track(work: Promise<void>): void {
    if (this.stopping.signal.aborted) return;
    const tracked = work.catch((error: unknown) => this.logger.error({ err: error }, 'chat notice failed'));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** A write that lowered the balance is checked against the account's (or its organisation's) levels, else the default one. */
  private async noticesOf(accountId: string, result: WriteResult, defaultLevel: bigint): Promise<string[]> {
    if (result.balance >= balanceBefore(result)) return writeNotices(result, []);
    const levels = await listBalanceThresholds(this.ctx, { accountId, organisationId: null });
    return writeNotices(result, levels.length > 0 ? levels.map((l) => l.level) : [defaultLevel]);
  }

  private async toOwnerOf(accountId: string, notices: string[]): Promise<void> {
    const identities = await chatIdentitiesOfAccount(this.ctx, accountId);
    await Promise.all(identities.flatMap((identity) => notices.map((text) => this.deliver(identity, text))));
  }

  private async deliver(identity: ChatIdentity, text: string): Promise<void> {
    const send = this.senders[identity.provider];
    if (!send) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await send(identity.externalId, text);
        return;
      } catch (error) {
        const log = { err: error, provider: identity.provider, to: identity.externalId, attempt };
        if (attempt >= this.attempts) {
          this.logger.error(log, 'chat notice given up');
          return;
        }
        this.logger.warn(log, 'chat notice failed; will retry');
        await sleep(this.firstRetryDelayMs * 2 ** (attempt - 1), this.stopping.signal);
        if (this.stopping.signal.aborted) {
          this.logger.warn(log, 'chat notice dropped: shutting down');
          return;
        }
      }
    }
  }
}

/** Waits, or less when the signal aborts (the loop then sees it and stops). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
