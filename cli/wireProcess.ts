import { createMetrics, type Metrics } from '../admin/metrics.js';
import type { ChatNotifier } from '../bot/notices/chatNotifier.js';
import { combineObservers, type CoreContext } from '../core/context.js';
import type { ReadReplica } from '../core/db/readReplica.js';

/**
 * The observers of every write a process makes, composed in this one place: the metrics count
 * each write, the chat notices hear each one, whoever made it (the API, a bot, the cron), and a
 * read replica learns which accounts' reports must wait for it to replay a write.
 * Everything the process runs then writes (and reads reports) with the context this returns.
 */
export function observeWrites(ctx: CoreContext, notifier?: ChatNotifier, replica?: ReadReplica): { ctx: CoreContext; metrics: Metrics } {
  const metrics = createMetrics();
  const observer = combineObservers(metrics.observer, notifier?.observer, replica?.observer);
  return { ctx: { ...ctx, observer, ...(replica && { replica }) }, metrics };
}
