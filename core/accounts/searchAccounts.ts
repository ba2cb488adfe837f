import { z } from 'zod';
import { ownedByOrganisation, type Reach } from '../access/accountReach.js';
import type { CoreContext } from '../context.js';
import type { OwnerKind } from '../db/generated/enums.js';
import { parseInput } from '../input.js';

export const searchAccountsInput = z.strictObject({
  /** An account id, or the start of an owner's external id or name. */
  search: z.string().trim().min(1).max(200),
  limit: z.number().int().min(1).max(100).default(20),
});

export interface AccountSummary {
  accountId: string;
  ownerKind: OwnerKind;
  externalId: string;
  name: string | null;
  organisation: string | null;
  balance: bigint;
  outstanding: bigint;
}

/**
 * Finds accounts for staff: by id, or by the owner's external id or name (case-insensitive prefix),
 * among the accounts the staff member's credential reaches.
 */
export async function searchAccounts(ctx: CoreContext, input: z.input<typeof searchAccountsInput>, reach: Reach): Promise<AccountSummary[]> {
  const { search, limit } = parseInput(searchAccountsInput, input);
  const prefix = `${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = await ctx.db.sql.query<{
    id: string;
    owner_kind: OwnerKind;
    external_id: string;
    name: string | null;
    organisation: string | null;
    balance: string;
    outstanding: string;
  }>(
    `SELECT a.id, a.owner_kind, coalesce(u.external_id, o.external_id, c.external_id) AS external_id,
       coalesce(u.display_name, o.name, c.name) AS name, co.name AS organisation, a.balance::text, a.outstanding::text
     FROM accounts a
     LEFT JOIN users u ON u.id = a.user_id
     LEFT JOIN organisations o ON o.id = a.organisation_id
     LEFT JOIN clients c ON c.id = a.client_id
     LEFT JOIN organisations co ON co.id = c.organisation_id
     WHERE (a.id::text = $1
        OR lower(coalesce(u.external_id, o.external_id, c.external_id)) LIKE $2
        OR lower(coalesce(u.display_name, o.name, c.name)) LIKE $2)
       AND ($4::uuid IS NULL OR ${ownedByOrganisation('$4::uuid')})
     ORDER BY 4 NULLS LAST, 3 LIMIT $3`,
    [search, prefix, limit, reach.organisationId],
  );
  return rows.map((r) => ({
    accountId: r.id,
    ownerKind: r.owner_kind,
    externalId: r.external_id,
    name: r.name,
    organisation: r.organisation,
    balance: BigInt(r.balance),
    outstanding: BigInt(r.outstanding),
  }));
}
