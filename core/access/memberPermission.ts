import type { CoreContext } from '../context.js';
import type { MemberRole } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';
import type { Actor, Origin } from '../input.js';
import { recordAudit } from '../audit/recordAudit.js';

/**
 * A role's rights on its organisation's (and clients') accounts: operators run usage, admins and owners buy,
 * adjust, grant, set auto-reload and change members, viewers only read.
 */
export const rolesAllowed = {
  spend: ['OWNER', 'ADMIN', 'OPERATOR'],
  purchase: ['OWNER', 'ADMIN'],
  adjust: ['OWNER', 'ADMIN'],
  grant: ['OWNER', 'ADMIN'],
  autoReload: ['OWNER', 'ADMIN'],
  members: ['OWNER', 'ADMIN'],
  /** Making or unmaking an owner is an owner's decision. */
  owners: ['OWNER'],
} as const satisfies Record<string, readonly MemberRole[]>;

export type MemberAction = keyof typeof rolesAllowed;

/**
 * Only a user's writes are checked against their role (service, staff and system are trusted); a user's own
 * personal account is theirs alone. A refusal writes nothing and is audited.
 */
export async function ensureActorMay(
  ctx: CoreContext,
  request: { actor: Actor; accountId: string; origin?: Origin | undefined },
  action: MemberAction,
): Promise<void> {
  const { actor, accountId } = request;
  if (actor.kind !== 'USER') return;
  const [row] = await ctx.db.sql.query<{ own: boolean; role: MemberRole | null }>(
    `SELECT u.id IS NOT NULL AND a.user_id = u.id AS own, m.role
     FROM accounts a
     LEFT JOIN clients c ON c.id = a.client_id
     LEFT JOIN users u ON u.external_id = $2
     LEFT JOIN members m ON m.user_id = u.id AND m.organisation_id = coalesce(a.organisation_id, c.organisation_id)
     WHERE a.id = $1::uuid`,
    [accountId, actor.id ?? ''],
  );
  if (!row) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`);
  if (row.own) return;
  await ensureRole(ctx, { ...request, role: row.role }, action);
}

/** The role check itself, for callers that know the member's role already (member changes). */
export async function ensureRole(
  ctx: CoreContext,
  request: { actor: Actor; accountId?: string | undefined; role: MemberRole | null; origin?: Origin | undefined },
  action: MemberAction,
): Promise<void> {
  const allowed: readonly MemberRole[] = rolesAllowed[action];
  if (request.role && allowed.includes(request.role)) return;
  const who = request.actor.id ?? 'this user';
  const outcome = request.role ? `denied: role ${request.role}` : 'denied: not a member';
  await recordAudit(ctx, {
    actor: request.actor,
    action: `member.${action}`,
    outcome,
    ...(request.accountId && { accountId: request.accountId }),
    ...(request.origin && { origin: request.origin }),
  });
  throw new CreditkeeperError(
    'ROLE_FORBIDDEN',
    request.role
      ? `${who} is ${request.role.toLowerCase()} here: only ${allowed.map((r) => r.toLowerCase()).join(' or ')} may ${actionWords[action]}`
      : `${who} is not a member of the organisation this account belongs to`,
    { role: request.role, action },
  );
}

const actionWords: Record<MemberAction, string> = {
  spend: 'use credits',
  purchase: 'buy credits',
  adjust: 'adjust the balance',
  grant: 'grant credits',
  autoReload: 'change auto-reload',
  members: 'change members',
  owners: 'make or unmake an owner',
};
