import { z } from 'zod';
import type { CoreContext } from '../context.js';
import type { OwnerKind } from '../db/generated/enums.js';
import { Prisma } from '../db/generated/client.js';
import { CreditkeeperError } from '../errors.js';
import { parseInput, timeZone } from '../input.js';

const externalId = z.string().trim().min(1).max(200);
const name = z.string().trim().min(1).max(200);
export const openAccountInput = z.strictObject({
  owner: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('USER'), externalId, displayName: name.optional(), timeZone: timeZone.optional() }),
    z.strictObject({ kind: z.literal('ORGANISATION'), externalId, name }),
    /** Each client of an organisation has a balance of its own. */
    z.strictObject({ kind: z.literal('CLIENT'), organisationExternalId: externalId, externalId, name }),
  ]),
});

export interface OpenedAccount {
  accountId: string;
  ownerKind: OwnerKind;
  ownerId: string;
  created: boolean;
}

/** Opens the account of a user, organisation or client, or returns the one it already has. */
export async function openAccount(ctx: CoreContext, input: z.input<typeof openAccountInput>): Promise<OpenedAccount> {
  const { owner } = parseInput(openAccountInput, input);
  try {
    return await open(ctx, owner);
  } catch (error) {
    // Two first calls for one owner race on its unique key: the loser finds the winner's account.
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') return open(ctx, owner);
    throw error;
  }
}

async function open(ctx: CoreContext, owner: z.infer<typeof openAccountInput>['owner']): Promise<OpenedAccount> {
  return ctx.db.prisma.$transaction(async (tx) => {
    let ownerId: string;
    let where: Prisma.AccountWhereUniqueInput;
    if (owner.kind === 'USER') {
      const user = await tx.user.upsert({
        where: { externalId: owner.externalId },
        create: { externalId: owner.externalId, displayName: owner.displayName ?? null, timeZone: owner.timeZone ?? 'UTC' },
        update: {},
      });
      ownerId = user.id;
      where = { userId: user.id };
    } else if (owner.kind === 'ORGANISATION') {
      const organisation = await tx.organisation.upsert({
        where: { externalId: owner.externalId },
        create: { externalId: owner.externalId, name: owner.name },
        update: {},
      });
      ownerId = organisation.id;
      where = { organisationId: organisation.id };
    } else {
      const organisation = await tx.organisation.findUnique({ where: { externalId: owner.organisationExternalId } });
      if (!organisation) {
        throw new CreditkeeperError('OWNER_NOT_FOUND', `No organisation ${owner.organisationExternalId}`);
      }
      const client = await tx.client.upsert({
        where: { organisationId_externalId: { organisationId: organisation.id, externalId: owner.externalId } },
        create: { organisationId: organisation.id, externalId: owner.externalId, name: owner.name },
        update: {},
      });
      ownerId = client.id;
      where = { clientId: client.id };
    }
    const existing = await tx.account.findUnique({ where });
    if (existing) return { accountId: existing.id, ownerKind: owner.kind, ownerId, created: false };
    const account = await tx.account.create({ data: { ownerKind: owner.kind, ...where } as Prisma.AccountUncheckedCreateInput });
    return { accountId: account.id, ownerKind: owner.kind, ownerId, created: true };
  });
}
