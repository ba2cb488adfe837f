import type { CoreContext } from '../context.js';
import type { MemberRole, OwnerKind } from '../db/generated/enums.js';
import { CreditkeeperError } from '../errors.js';

/** Someone or something with an account, and that account's id when it has one. */
export interface Party {
  externalId: string;
  name: string | null;
  accountId: string | null;
}

/**
 * Who owns an account and who is around it, for staff: a user's organisations; an organisation's clients and
 * members; a client's organisation, sibling clients and members (roles are the organisation's).
 */
export interface AccountOwner {
  kind: OwnerKind;
  owner: Party;
  organisation: Party | null;
  clients: Party[];
  members: (Party & { role: MemberRole })[];
  /** For a user's own account: the organisations they belong to. */
  memberships: (Party & { role: MemberRole })[];
}

const party = (p: { externalId: string; name?: string | null; displayName?: string | null; account: { id: string } | null }): Party => ({
  externalId: p.externalId,
  name: p.name ?? p.displayName ?? null,
  accountId: p.account?.id ?? null,
});

/** Plain reads through Prisma: nothing here is on a measured path. */
export async function getAccountOwner(ctx: CoreContext, accountId: string): Promise<AccountOwner> {
  const withAccount = { account: { select: { id: true } } } as const;
  const organisationAround = {
    ...withAccount,
    clients: { include: withAccount, orderBy: { name: 'asc' } },
    members: { include: { user: { include: withAccount } }, orderBy: { createdAt: 'asc' } },
  } as const;
  const account = await ctx.db.prisma.account.findUnique({
    where: { id: accountId },
    include: {
      user: { include: { ...withAccount, memberships: { include: { organisation: { include: withAccount } }, orderBy: { createdAt: 'asc' } } } },
      organisation: { include: organisationAround },
      client: { include: { ...withAccount, organisation: { include: organisationAround } } },
    },
  });
  if (!account) throw new CreditkeeperError('ACCOUNT_NOT_FOUND', 'No such account');
  const around = account.organisation ?? account.client?.organisation ?? null;
  const owner = account.user ?? account.organisation ?? account.client;
  return {
    kind: account.ownerKind,
    owner: party(owner!),
    organisation: account.client ? party(account.client.organisation) : null,
    clients: (around?.clients ?? []).map(party),
    members: (around?.members ?? []).map((m) => ({ ...party(m.user), role: m.role })),
    memberships: (account.user?.memberships ?? []).map((m) => ({ ...party(m.organisation), role: m.role })),
  };
}
