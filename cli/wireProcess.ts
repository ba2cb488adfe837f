import { createMetrics, type Metrics } from '../admin/metrics.js';
import type { ChatNotifier } from '../bot/notices/chatNotifier.js';
import { combineObservers, type CoreContext } from '../core/context.js';

/**
 * The observers of every write a process makes, composed in this one place: the metrics count
 * each write, and the chat notices hear each one, whoever made it (the API, a bot, the cron).
 * Everything the process runs then writes with the context this returns.
 */
export function observeWrites(ctx: CoreContext, notifier?: ChatNotifier): { ctx: CoreContext; metrics: Metrics } {
  const metrics = createMetrics();
  return { ctx: { ...ctx, observer: combineObservers(metrics.observer, notifier?.observer) }, metrics };
}
