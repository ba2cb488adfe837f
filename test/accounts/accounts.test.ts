import { describe, expect, it } from 'vitest';
import { addMember } from '../../core/accounts/addMember.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { engines } from '../support/databases.js';
import { balanceOf, expectError, key, service, useFreshLedger } from '../support/scenario.js';

describe.each(engines)('accounts and owners on %s', (engine) => {
  const ctx = useFreshLedger(engine);

  it('opening an account twice returns the same account; concurrent first opens make one', async () => {
    const opens = await Promise.all(
      Array.from({ length: 8 }, () => openAccount(ctx, { owner: { kind: 'USER', externalId: 'racer', timeZone: 'Asia/Kolkata' } })),
    );
    expect(new Set(opens.map((o) => o.accountId)).size).toBe(1);
    expect(opens.filter((o) => o.created)).toHaveLength(1);
    expect(await ctx.db.prisma.user.findUnique({ where: { externalId: 'racer' } })).toMatchObject({ timeZone: 'Asia/Kolkata' });
  });

  it('clients of one organisation each have their own balance', async () => {
    await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: 'agency', name: 'Agency' } });
    const clientA = await openAccount(ctx, { owner: { kind: 'CLIENT', organisationExternalId: 'agency', externalId: 'a', name: 'Client A' } });
    const clientB = await openAccount(ctx, { owner: { kind: 'CLIENT', organisationExternalId: 'agency', externalId: 'b', name: 'Client B' } });
    expect(clientA.accountId).not.toBe(clientB.accountId);
    await purchase(ctx, { accountId: clientA.accountId, idempotencyKey: key(), actor: service, amount: 150n });
    expect(await balanceOf(ctx, clientA.accountId)).toBe(150n);
    expect(await balanceOf(ctx, clientB.accountId)).toBe(0n);
    await expectError(
      openAccount(ctx, { owner: { kind: 'CLIENT', organisationExternalId: 'nobody', externalId: 'c', name: 'C' } }),
      'OWNER_NOT_FOUND',
    );
  });

  it('one pooled organisation balance, each spend attributed to an event and a member', async () => {
    const org = await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: 'studio', name: 'Photo Studio' } });
    await openAccount(ctx, { owner: { kind: 'USER', externalId: 'olga' } });
    const member = await addMember(ctx, { organisationExternalId: 'studio', userExternalId: 'olga', role: 'OPERATOR' });
    expect(member.role).toBe('OPERATOR');
    expect((await addMember(ctx, { organisationExternalId: 'studio', userExternalId: 'olga', role: 'ADMIN' })).role).toBe('ADMIN');
    await purchase(ctx, { accountId: org.accountId, idempotencyKey: key(), actor: service, amount: 1000n });
    const run = await spend(ctx, {
      accountId: org.accountId,
      idempotencyKey: key(),
      actor: { kind: 'USER', id: 'olga' },
      charge: { action: 'photo_processing', quantity: 240 },
      source: { kind: 'event', id: '8812', label: 'Spring Marathon' },
    });
    expect(run.entries[0]).toMatchObject({
      amount: -240n,
      category: 'Photo Processing',
      source: { kind: 'event', id: '8812', label: 'Spring Marathon' },
      actor: { kind: 'USER', id: 'olga' },
    });
    await expectError(addMember(ctx, { organisationExternalId: 'studio', userExternalId: 'ghost', role: 'VIEWER' }), 'OWNER_NOT_FOUND');
  });

  it('bad owners are refused', async () => {
    await expectError(openAccount(ctx, { owner: { kind: 'USER', externalId: 'tz', timeZone: 'Mars/Olympus' } }), 'VALIDATION_FAILED');
    await expectError(openAccount(ctx, { owner: { kind: 'USER', externalId: '' } }), 'VALIDATION_FAILED');
    await expectError(openAccount(ctx, { owner: { kind: 'ROBOT', externalId: 'x' } } as never), 'VALIDATION_FAILED');
  });
});
