import type { webApi } from '@slack/bolt';
import type { Logger } from '../../core/logger.js';

const timeZoneTtlMs = 60 * 60_000;
/** Staff membership is re-read soon after it changes in Slack, without one API call per command. */
const staffGroupTtlMs = 60_000;

export interface SlackStaffSettings {
  userIds: string[];
  usergroupId?: string | undefined;
}

/**
 * Slack's user time zones (an hour) and staff group members (a minute), cached; when Slack cannot answer, the
 * account's zone is used and the group counts as empty.
 */
export class SlackDirectory {
  private readonly timeZones = new Map<string, { zone: string; until: number }>();
  private staffGroup: { members: Set<string>; until: number } | null = null;

  constructor(
    private readonly client: webApi.WebClient,
    private readonly staff: SlackStaffSettings,
    private readonly logger: Logger,
  ) {}

  async timeZoneOf(userId: string): Promise<string | undefined> {
    const cached = this.timeZones.get(userId);
    if (cached && cached.until > Date.now()) return cached.zone;
    try {
      const zone = (await this.client.users.info({ user: userId })).user?.tz;
      if (zone) this.timeZones.set(userId, { zone, until: Date.now() + timeZoneTtlMs });
      return zone;
    } catch (error) {
      this.logger.warn({ err: error, userId }, 'Slack users.info failed; using the account time zone');
      return undefined;
    }
  }

  async isStaff(userId: string): Promise<boolean> {
    if (this.staff.userIds.includes(userId)) return true;
    if (!this.staff.usergroupId) return false;
    return (await this.staffGroupMembers(this.staff.usergroupId)).has(userId);
  }

  private async staffGroupMembers(usergroup: string): Promise<Set<string>> {
    if (this.staffGroup && this.staffGroup.until > Date.now()) return this.staffGroup.members;
    try {
      const members = new Set((await this.client.usergroups.users.list({ usergroup })).users ?? []);
      this.staffGroup = { members, until: Date.now() + staffGroupTtlMs };
      return members;
    } catch (error) {
      this.logger.warn({ err: error, usergroup }, 'Slack usergroups.users.list failed; nobody is staff by group for now');
      return new Set();
    }
  }
}
