import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../core/access/createApiToken.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { purchase } from '../../core/ledger/purchase.js';
import { client, useApi } from '../support/api.js';
import { engines } from '../support/databases.js';
import { balanceOf, entryCount, expectLedgerSound, key, service, useFreshLedger } from '../support/scenario.js';

/**
 * POST /v1/usage/batch: many accounts' usage in one request. Not all-or-nothing, but each event
 * is exactly once under its own key; a retry of the whole batch moves nothing twice.
 */
describe.each(engines)('usage in batches on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);
  const run = randomUUID().slice(0, 8);
  const ids = { maria: '', olga: '', orgA: '', orgB: '' };
  let batch: (events: unknown[], token?: string) => ReturnType<ReturnType<typeof client>>;

  beforeAll(async () => {
    ids.maria = (await openAccount(ctx, { owner: { kind: 'USER', externalId: `maria-${run}` } })).accountId;
    ids.olga = (await openAccount(ctx, { owner: { kind: 'USER', externalId: `olga-${run}` } })).accountId;
    ids.orgA = (await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: `orgA-${run}`, name: 'Agency A' } })).accountId;
    ids.orgB = (await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: `orgB-${run}`, name: 'Agency B' } })).accountId;
    for (const [accountId, amount] of [[ids.maria, 100n], [ids.olga, 5n], [ids.orgA, 50n], [ids.orgB, 50n]] as const) {
      await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: service, amount });
    }
    batch = (events, token = api.service) => client(api.baseUrl, token)('POST', '/v1/usage/batch', { body: { events } });
  });

  it('maria 100, olga 5: each event gets its own outcome, in the order sent, and a retry replays', async () => {
    const keys = Array.from({ length: 6 }, () => key('b'));
    const events = [
      { accountId: ids.maria, idempotencyKey: keys[0], charge: { action: 'image', quantity: 2 } }, // 6: 100 → 94
      { accountId: ids.olga, idempotencyKey: keys[1], charge: { action: 'chat', quantity: 5 } }, // exactly her 5: 5 → 0
      { accountId: ids.olga, idempotencyKey: keys[2], charge: { action: 'chat', quantity: 1 } }, // one over: refused
      { accountId: ids.maria, idempotencyKey: keys[3], charge: { action: 'teleport', quantity: 1 } }, // no such action
      { accountId: ids.maria, idempotencyKey: keys[4], charge: { action: 'chat', quantity: 0 } }, // zero: invalid
      { accountId: randomUUID(), idempotencyKey: keys[5], charge: { action: 'chat', quantity: 1 } }, // no such account
      { accountId: ids.maria, charge: { action: 'chat', quantity: 1 } }, // no key
    ];
    const first = await batch(events);
    expect(first.status, first.text).toBe(200);
    expect(first.body.outcomes.map((o: { status: string; error?: { code: string } }) => o.error?.code ?? o.status)).toEqual([
      'written', 'written', 'INSUFFICIENT_CREDITS', 'UNKNOWN_ACTION', 'VALIDATION_FAILED', 'ACCOUNT_NOT_FOUND', 'VALIDATION_FAILED',
    ]);
    expect(first.body.outcomes[0]).toMatchObject({ index: 0, idempotencyKey: keys[0], result: { balance: '94' } });
    expect(first.body.outcomes[1].result.balance).toBe('0');
    expect([await balanceOf(ctx, ids.maria), await balanceOf(ctx, ids.olga)]).toEqual([94n, 0n]);

    const again = await batch(events);
    expect(again.body.outcomes.map((o: { status: string; error?: { code: string } }) => o.error?.code ?? o.status).slice(0, 3)).toEqual([
      'replayed', 'replayed', 'INSUFFICIENT_CREDITS',
    ]);
    expect([await balanceOf(ctx, ids.maria), await balanceOf(ctx, ids.olga)]).toEqual([94n, 0n]);
    await expectLedgerSound(ctx);
  });

  it('an event that reuses a key for something else is refused; the first stays', async () => {
    const reused = key('b');
    const reply = await batch([
      { accountId: ids.maria, idempotencyKey: reused, charge: { action: 'chat', quantity: 1 } },
      { accountId: ids.maria, idempotencyKey: reused, charge: { action: 'chat', quantity: 2 } },
    ]);
    expect(reply.body.outcomes.map((o: { status: string; error?: { code: string } }) => o.error?.code ?? o.status)).toEqual(['written', 'IDEMPOTENCY_CONFLICT']);
  });

  it('64 callers posting the same batch of 40 events at once: each event lands once', async () => {
    const accounts = [ids.maria, ids.orgA];
    const before = await Promise.all(accounts.map((a) => balanceOf(ctx, a)));
    const entriesBefore = await Promise.all(accounts.map((a) => entryCount(ctx, a)));
    const events = Array.from({ length: 40 }, (_, i) => ({ accountId: accounts[i % 2], idempotencyKey: key('c'), charge: { action: 'chat', quantity: 1 } }));
    const replies = await Promise.all(Array.from({ length: 64 }, () => batch(events)));
    for (const reply of replies) {
      expect(reply.status, reply.text).toBe(200);
      for (const outcome of reply.body.outcomes) expect(['written', 'replayed']).toContain(outcome.status);
    }
    const written = replies.flatMap((r) => r.body.outcomes).filter((o: { status: string }) => o.status === 'written');
    expect(written).toHaveLength(40);
    expect(await Promise.all(accounts.map((a) => balanceOf(ctx, a)))).toEqual(before.map((b) => b - 20n));
    expect(await Promise.all(accounts.map((a) => entryCount(ctx, a)))).toEqual(entriesBefore.map((n) => n + 20));
    await expectLedgerSound(ctx);
  });

  it("an organisation's token charges its own account and is told another's does not exist", async () => {
    const tokenA = (await createApiToken(ctx, { name: 'orgA-host', scopes: ['SERVICE'], organisationExternalId: `orgA-${run}`, actor: { kind: 'STAFF', id: 't' } })).secret;
    const before = await balanceOf(ctx, ids.orgB);
    const reply = await batch([
      { accountId: ids.orgA, idempotencyKey: key('t'), charge: { action: 'chat', quantity: 1 } },
      { accountId: ids.orgB, idempotencyKey: key('t'), charge: { action: 'chat', quantity: 1 } },
      { accountId: ids.maria, idempotencyKey: key('t'), charge: { action: 'chat', quantity: 1 } },
    ], tokenA);
    expect(reply.body.outcomes.map((o: { status: string; error?: { code: string } }) => o.error?.code ?? o.status)).toEqual(['written', 'ACCOUNT_NOT_FOUND', 'ACCOUNT_NOT_FOUND']);
    expect(await balanceOf(ctx, ids.orgB)).toBe(before);
  });

  it('a batch is 1 to 1,000 events, under 1 MB; a READ token may not post one', async () => {
    const one = { accountId: ids.maria, idempotencyKey: 'k', charge: { action: 'chat', quantity: 1 } };
    expect((await batch([])).body.error.code).toBe('VALIDATION_FAILED');
    const tooMany = await batch(Array.from({ length: 1001 }, () => one));
    expect([tooMany.status, tooMany.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    const reader = await batch([one], api.reader);
    expect([reader.status, reader.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const huge = await batch([{ ...one, note: 'x'.repeat(1_100_000) }]);
    expect([huge.status, huge.body.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('a full batch of 1,000 events over 100 accounts lands every event once', async () => {
    const accounts: string[] = [];
    for (let i = 0; i < 100; i++) {
      const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `bulk-${run}-${i}` } });
      await purchase(ctx, { accountId, idempotencyKey: 'opening', actor: service, amount: 10n });
      accounts.push(accountId);
    }
    // Eleven events for the first account: its tenth empties it, the eleventh is one over.
    const events = Array.from({ length: 1000 }, (_, i) => ({ accountId: accounts[i < 11 ? 0 : 1 + (i % 99)], idempotencyKey: key('f'), charge: { action: 'chat', quantity: 1 } }));
    const reply = await batch(events);
    expect(reply.status, reply.text).toBe(200);
    const outcomes = reply.body.outcomes.map((o: { status: string; error?: { code: string } }) => o.error?.code ?? o.status);
    expect(outcomes.slice(0, 11)).toEqual([...Array(10).fill('written'), 'INSUFFICIENT_CREDITS']);
    expect(outcomes.filter((o: string) => o === 'written')).toHaveLength(999);
    expect(await balanceOf(ctx, accounts[0]!)).toBe(0n);
    await expectLedgerSound(ctx);
  }, 120_000);
});
