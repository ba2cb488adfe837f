import type { CoreContext } from '../../core/context.js';
import { resolveChatUser } from '../../core/identity/resolveChatUser.js';
import type { Caller } from '../command.js';
import type { SlackDirectory } from './slackDirectory.js';

/** Who typed or pressed: their linked user (if any), whether they are staff right now, their Slack time zone. */
export async function slackCaller(ctx: CoreContext, directory: SlackDirectory, userId: string, interactionId: string): Promise<Caller> {
  const [linked, isStaff, timeZone] = await Promise.all([
    resolveChatUser(ctx, { provider: 'SLACK', externalId: userId }),
    directory.isStaff(userId),
    directory.timeZoneOf(userId),
  ]);
  return {
    transport: 'slack',
    chatUserId: userId,
    userExternalId: linked?.userExternalId ?? null,
    isStaff,
    interactionId,
    ...(timeZone && { timeZone }),
  };
}
