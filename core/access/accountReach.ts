import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { uuid } from '../input.js';

/**
 * What a credential (API token or admin session) may reach: every account, or one organisation's own and its
 * clients'. Never its members' personal accounts: membership lets a member in, not the organisation out.
 */
export interface Reach {
  /** Set when the credential may only reach this organisation's accounts. */
  organisationId: string | null;
}

/** Global staff (the chat bots' staff, the CLI) and unrestricted tokens. */
export const unrestricted: Reach = { organisationId: null };

/** SQL: whether account `a` (with its client row `c` joined) belongs to organisation `$org`. */
export function ownedByOrganisation(org: string): string {
  return `(a.organisation_id = ${org} OR c.organisation_id = ${org})`;
}

/** Out of reach looks exactly like not found, so a credential cannot probe other organisations. */
export async function ensureAccountInReach(ctx: CoreContext, reach: Reach, accountId: string): Promise<void> {
  if (!reach.organisationId) return;
  if (!uuid.safeParse(accountId).success) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`);
  const [row] = await ctx.db.sql.query<{ in_reach: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM accounts a LEFT JOIN clients c ON c.id = a.client_id
       WHERE a.id = $1::uuid AND ${ownedByOrganisation('$2::uuid')}
     ) AS in_reach`,
    [accountId, reach.organisationId],
  );
  if (!row!.in_reach) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', `No account ${accountId}`);
}

/** Of these account ids, the ones the credential reaches (for an unrestricted one: every well-formed id), in one query. */
export async function accountsInReach(ctx: CoreContext, reach: Reach, accountIds: readonly unknown[]): Promise<Set<string>> {
  const ids = [...new Set(accountIds.filter((id): id is string => uuid.safeParse(id).success))];
  if (!reach.organisationId || ids.length === 0) return new Set(ids);
  const rows = await ctx.db.sql.query<{ id: string }>(
    `SELECT a.id FROM accounts a LEFT JOIN clients c ON c.id = a.client_id
     WHERE a.id = ANY($1::uuid[]) AND ${ownedByOrganisation('$2::uuid')}`,
    [ids, reach.organisationId],
  );
  return new Set(rows.map((row) => row.id));
}

/** An organisation-limited credential acts only on its own organisation (by external id). */
export async function ensureOrganisationInReach(ctx: CoreContext, reach: Reach, organisationExternalId: string): Promise<void> {
  if (!reach.organisationId) return;
  const [row] = await ctx.db.sql.query<{ external_id: string }>(`SELECT external_id FROM organisations WHERE id = $1::uuid`, [reach.organisationId]);
  if (row?.external_id !== organisationExternalId) {
    throw new CreditkeeperError('FORBIDDEN', 'This credential is limited to another organisation');
  }
}

/** The id of the organisation a credential is being limited to, by its external id. */
export async function organisationIdOf(ctx: CoreContext, organisationExternalId: string): Promise<string> {
  const [row] = await ctx.db.sql.query<{ id: string }>(`SELECT id FROM organisations WHERE external_id = $1`, [organisationExternalId]);
  if (!row) throw new CreditkeeperError('OWNER_NOT_FOUND', `No organisation ${organisationExternalId}`);
  return row.id;
}
