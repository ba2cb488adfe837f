import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startAdminSession } from '../../core/access/adminSession.js';
import { authenticateToken, tokenTrustMs } from '../../core/access/authenticateToken.js';
import { createApiToken, hashSecret } from '../../core/access/createApiToken.js';
import { revokeApiToken } from '../../core/access/revokeApiToken.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { client, useApi } from '../support/api.js';
import { engines } from '../support/databases.js';
import { expectError, staff, useFreshLedger } from '../support/scenario.js';

/**
 * A token found is believed for tokenTrustMs (1 s) without asking the database again: revoked in
 * this process it is refused at once, revoked by another (the CLI) once that second has passed.
 */
describe.each(engines)('token trust on %s', (engine) => {
  const ctx = useFreshLedger(engine);
  const api = useApi(ctx);
  afterEach(() => vi.restoreAllMocks());

  const balanceWith = async (secret: string, accountId: string) => (await client(api.baseUrl, secret)('GET', `/v1/accounts/${accountId}/balance`)).status;

  it('revoked in this process after it was believed: the next request is refused at once', async () => {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `user-${randomUUID()}` } });
    const token = await createApiToken(ctx, { name: 'soon-revoked', scopes: ['READ'], actor: staff });
    expect([await balanceWith(token.secret, accountId), await balanceWith(token.secret, accountId)]).toEqual([200, 200]);
    await revokeApiToken(ctx, { tokenId: token.id, actor: staff });
    expect(await balanceWith(token.secret, accountId)).toBe(401);
  });

  it('revoked by another process: believed until its trust runs out, 1 s after it was looked up, then refused', async () => {
    const token = await createApiToken(ctx, { name: 'revoked-elsewhere', scopes: ['READ'], actor: staff });
    const lookedUpAt = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(lookedUpAt);
    expect((await authenticateToken(ctx, token.secret)).tokenId).toBe(token.id);
    // What `creditkeeper token revoke` does from its own process: this one is not told.
    await ctx.db.sql.query(`UPDATE api_tokens SET revoked_at = now() WHERE id = $1::uuid`, [token.id]);
    vi.spyOn(Date, 'now').mockReturnValue(lookedUpAt + tokenTrustMs - 1);
    expect((await authenticateToken(ctx, token.secret)).tokenId).toBe(token.id);
    vi.spyOn(Date, 'now').mockReturnValue(lookedUpAt + tokenTrustMs);
    await expectError(authenticateToken(ctx, token.secret), 'UNAUTHENTICATED');
  });

  it('revoked while a lookup is under way: the lookup read it before the revocation, answers after it, and is not remembered', async () => {
    const token = await createApiToken(ctx, { name: 'raced', scopes: ['READ'], actor: staff });
    const sql = ctx.db.sql;
    const query = sql.query.bind(sql);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let answered!: () => void;
    const hasRead = new Promise<void>((resolve) => (answered = resolve));
    vi.spyOn(sql, 'query').mockImplementation((async (...args: Parameters<typeof query>) => {
      const rows = await query(...args);
      if (args[2] === 'authenticate-token') {
        answered();
        await gate;
      }
      return rows;
    }) as typeof query);
    const lookup = authenticateToken(ctx, token.secret);
    await hasRead;
    await revokeApiToken(ctx, { tokenId: token.id, actor: staff });
    release();
    expect((await lookup).tokenId).toBe(token.id);
    vi.restoreAllMocks();
    await expectError(authenticateToken(ctx, token.secret), 'UNAUTHENTICATED');
  });

  it('signing in with an admin token revoked by another process is refused at once, trusted or not', async () => {
    const token = await createApiToken(ctx, { name: 'admin-revoked-elsewhere', scopes: ['ADMIN'], actor: staff });
    expect((await authenticateToken(ctx, token.secret)).tokenId).toBe(token.id);
    await ctx.db.sql.query(`UPDATE api_tokens SET revoked_at = now() WHERE id = $1::uuid`, [token.id]);
    await expectError(startAdminSession(ctx, { token: token.secret }, { transport: 'admin-page' }), 'UNAUTHENTICATED');
    // The fresh lookup replaced what was remembered: the API refuses it from then on too.
    await expectError(authenticateToken(ctx, token.secret), 'UNAUTHENTICATED');
  });

  it("two organisations' tokens, both believed: each answers as its own organisation, and A's still cannot read B's account", async () => {
    const run = randomUUID().slice(0, 8);
    const organisations = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const externalId = `org-${name}-${run}`;
        const { accountId } = await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId, name: externalId } });
        const token = await createApiToken(ctx, { name: `host-${name}`, scopes: ['READ'], organisationExternalId: externalId, actor: staff });
        const [row] = await ctx.db.sql.query<{ id: string }>(`SELECT id FROM organisations WHERE external_id = $1`, [externalId]);
        return { accountId, secret: token.secret, tokenId: token.id, organisationId: row!.id };
      }),
    );
    const [a, b] = organisations as [(typeof organisations)[0], (typeof organisations)[0]];
    for (let round = 0; round < 2; round++) {
      expect(await authenticateToken(ctx, a.secret)).toMatchObject({ tokenId: a.tokenId, organisationId: a.organisationId });
      expect(await authenticateToken(ctx, b.secret)).toMatchObject({ tokenId: b.tokenId, organisationId: b.organisationId });
    }
    expect([await balanceWith(a.secret, a.accountId), await balanceWith(a.secret, b.accountId), await balanceWith(b.secret, b.accountId)]).toEqual([200, 404, 200]);
  });

  it('an unknown secret is not remembered: a token made for it by another process works at once', async () => {
    const secret = `ck_${randomBytes(32).toString('base64url')}`;
    await expectError(authenticateToken(ctx, secret), 'UNAUTHENTICATED');
    await ctx.db.sql.query(`INSERT INTO api_tokens (name, secret_hash, scopes) VALUES ('made-elsewhere', $1, ARRAY['READ']::"TokenScope"[])`, [hashSecret(secret)]);
    expect((await authenticateToken(ctx, secret)).name).toBe('made-elsewhere');
  });

  it('a caller that changes the principal it was given changes nothing the next caller gets', async () => {
    const token = await createApiToken(ctx, { name: 'read-only', scopes: ['READ'], actor: staff });
    const first = await authenticateToken(ctx, token.secret);
    first.scopes.push('ADMIN');
    Object.assign(first, { organisationId: randomUUID() });
    expect(await authenticateToken(ctx, token.secret)).toMatchObject({ scopes: ['READ'], organisationId: null });
  });
});
