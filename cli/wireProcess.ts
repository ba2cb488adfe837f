import { createMetrics, type Metrics } from '../admin/metrics.js';
import type { ChatNotifier } from '../bot/notices/chatNotifier.js';
import { combineObservers, type CoreContext } from '../core/context.js';
import type { ReadReplica } from '../core/db/readReplica.js';

/**
 * The observers of every write a process makes (metrics, chat notices, the replica's replay wait), composed
 * once: the API, the bots and the cron all write with the context this returns.
 */
export function observeWrites(ctx: CoreContext, notifier?: ChatNotifier, replica?: ReadReplica): { ctx: CoreContext; metrics: Metrics } {
  const metrics = createMetrics();
  const observer = combineObservers(metrics.observer, notifier?.observer, replica?.observer);
  return { ctx: { ...ctx, observer, ...(replica && { replica }) }, metrics };
}
