import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { unrestricted } from '../../core/access/accountReach.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { spend } from '../../core/ledger/spend.js';
import { renewSubscription } from '../../core/plans/renewSubscription.js';
import { subscribe } from '../../core/plans/subscribe.js';
import { findSubscription } from '../../core/plans/subscriptionRecord.js';
import { listBalanceThresholds } from '../../core/thresholds/listBalanceThresholds.js';
import { setBalanceThresholds } from '../../core/thresholds/setBalanceThresholds.js';
import { deliverDueWebhooks } from '../../core/webhooks/dispatchWebhooks.js';
import { registerWebhookEndpoint } from '../../core/webhooks/registerWebhookEndpoint.js';
import { webhookSettings } from '../../core/webhooks/webhookSettings.js';
import { engines } from '../support/databases.js';
import { expectError, key, service, useFreshLedger } from '../support/scenario.js';
import { until, WebhookReceiver } from './webhookReceiver.js';

const settings = webhookSettings({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8' });

describe.each(engines)('per-account and per-organisation alert levels (%s)', (engine) => {
  const ctx = useFreshLedger(engine);
  const receiver = new WebhookReceiver();
  afterAll(() => receiver.down());

  it('an organisation’s level and an account’s share of its plan both fire balance.low, each once per crossing; another organisation’s token cannot set them; a renewal says so', async () => {
    await receiver.up();
    const organisation = `agency-${randomUUID()}`;
    await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: organisation, name: 'Northwind' } });
    const endpoint = await registerWebhookEndpoint(ctx, { url: receiver.url, eventTypes: ['balance.low', 'subscription.renewed'], organisationExternalId: organisation, createdBy: 'test' }, unrestricted, settings);
    receiver.secret = endpoint.secret;
    const { accountId: acme } = await openAccount(ctx, { owner: { kind: 'CLIENT', organisationExternalId: organisation, externalId: 'acme', name: 'Acme Shoes' } });
    await subscribe(ctx, { accountId: acme, idempotencyKey: key(), actor: service, plan: 'growth' }); // 325 plan credits

    await setBalanceThresholds(ctx, { target: { organisationExternalId: organisation }, levels: [{ amount: 100n }] }, unrestricted);
    // 10% of Growth's 325, rounded up: 33.
    const own = await setBalanceThresholds(ctx, { target: { accountId: acme }, levels: [{ percentOfPlan: 10 }] }, unrestricted);
    expect(own.levels).toEqual([{ level: 33n, percentOfPlan: 10, scope: 'account' }]);
    expect(await listBalanceThresholds(ctx, { accountId: acme, organisationId: null })).toEqual([
      { level: 33n, percentOfPlan: 10, scope: 'account' },
      { level: 100n, percentOfPlan: null, scope: 'organisation' },
    ]);
    const other = await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: `other-${randomUUID()}`, name: 'Other' } });
    await expectError(setBalanceThresholds(ctx, { target: { accountId: acme }, levels: [{ amount: 1n }] }, { organisationId: other.ownerId }), 'ACCOUNT_NOT_FOUND');

    const use = (amount: bigint) => spend(ctx, { accountId: acme, idempotencyKey: key(), actor: service, charge: { amount, category: 'Submission', description: 'Render' } });
    await use(200n); // 325 → 125
    await use(30n); // 125 → 95: below 100
    await use(30n); // 95 → 65
    await use(40n); // 65 → 25: below 33
    await use(25n); // 25 → 0
    await until(() => receiver.events().filter((e) => e.type === 'balance.low').length === 2, () => deliverDueWebhooks(ctx, settings));
    expect(receiver.events().filter((e) => e.type === 'balance.low').map((e) => [e.data.level, e.data.balanceBefore, e.data.balance])).toEqual([
      ['100', '125', '95'],
      ['33', '65', '25'],
    ]);

    // The renewal lands the next allocation: subscription.renewed, with the plan and what it granted.
    await renewSubscription(ctx, (await findSubscription(ctx.db.sql, acme))!);
    await until(() => receiver.events().some((e) => e.type === 'subscription.renewed'), () => deliverDueWebhooks(ctx, settings));
    expect(receiver.events().find((e) => e.type === 'subscription.renewed')!.data).toMatchObject({ accountId: acme, plan: 'growth', granted: '325', balance: '325' });
  });
});
