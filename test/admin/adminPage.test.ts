import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../admin/app.js';
import { when } from '../../admin/page/html.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import { createLoginLink } from '../../core/access/createLoginLink.js';
import { addMember } from '../../core/accounts/addMember.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { grant } from '../../core/ledger/grant.js';
import { landScheduledWrites } from '../../core/ledger/landScheduledWrites.js';
import { reconcileDeposit } from '../../core/ledger/reconcileDeposit.js';
import { purchase } from '../../core/ledger/purchase.js';
import { spend } from '../../core/ledger/spend.js';
import { subscribe } from '../../core/plans/subscribe.js';
import { balanceOf, entryCount, inDays, service, useFreshLedger } from '../support/scenario.js';

const madrid = 'Europe/Madrid';
/** A moment as a datetime-local field holds it in Madrid: "2027-01-03T09:00". */
const fieldInMadrid = (moment: Date) => new Intl.DateTimeFormat('sv-SE', { timeZone: madrid, dateStyle: 'short', timeStyle: 'short' }).format(moment).replace(' ', 'T');

/** The admin page in a real headless Chromium (Debian's chromium, driven by playwright-core). */
describe('the admin page in a browser', () => {
  const ctx = useFreshLedger('pglite');
  let browser: Browser;
  let base = '';
  let close = () => {};
  let adminToken = '';
  let accountId = '';
  const externalId = `maria-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    const server = createApp(ctx, pino({ level: 'silent' })).listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
    adminToken = (await createApiToken(ctx, { name: 'ana@support', scopes: ['ADMIN'], actor: { kind: 'STAFF', id: 'setup' } })).secret;
    accountId = (await openAccount(ctx, { owner: { kind: 'USER', externalId, displayName: 'Maria Lopez' } })).accountId;
    await purchase(ctx, { accountId, idempotencyKey: 'order-1', actor: service, amount: 100n });
    await spend(ctx, { accountId, idempotencyKey: 'img-1', actor: service, charge: { action: 'image', quantity: 2 } });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    close();
  });

  it('signs in with an admin token, finds the account, posts an adjustment with a reason, and sees it in the log and the audit', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/admin`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await page.fill('input[name=token]', adminToken);
    await page.click('button:has-text("Sign in")');
    await page.fill('input[name=search]', externalId.slice(0, 10));
    await page.click('button:has-text("Search")');
    await page.click('a:has-text("Maria Lopez")');
    await expect.poll(() => page.textContent('.stats')).toMatch(/94\s*credits available/);
    expect(await page.locator('svg rect').count()).toBe(30);
    expect(await page.textContent('main')).toContain('Showing 1–2 of 2');

    await page.fill('input[name=amount]', '25');
    await page.fill('input[name=reason]', 'Compensation for a delivery miss');
    await page.click('button:has-text("Post adjustment")');
    const notice = await page.textContent('[role=status]');
    expect(notice).toContain('Admin adjustment +25 — balance after 119');
    expect(notice).toContain('Compensation for a delivery miss');
    const firstRow = await page.textContent('tbody >> nth=1 >> tr >> nth=0');
    expect(firstRow).toContain('+25');
    expect(firstRow).toContain('119');
    // Reloading the confirmation does not post it again.
    await page.reload();
    expect(await entryCount(ctx, accountId)).toBe(3);

    await page.click('.segments a:has-text("Used")');
    expect(await page.textContent('main')).toContain('Showing 1–1 of 1');
    // Two images in a row: one grouped row that opens into its two entries.
    await spend(ctx, { accountId, idempotencyKey: 'img-2', actor: service, charge: { action: 'image', quantity: 1 } });
    await spend(ctx, { accountId, idempotencyKey: 'img-3', actor: service, charge: { action: 'image', quantity: 1 } });
    await page.reload();
    await page.click('a:has-text("×2")');
    expect(await page.textContent('h1')).toBe('2 entries in one activity row');
    expect(await page.locator('tbody tr').count()).toBe(2);
    await page.click('a:has-text("Back to the account")');

    await page.click('header a:has-text("Audit log")');
    const audit = await page.textContent('table');
    expect(audit).toContain('ana@support');
    expect(audit).toContain('adjust');
    expect(audit).toContain('Compensation for a delivery miss');
    await page.fill('input[name=actorId]', 'ana@support');
    await page.fill('input[name=to]', '2020-01-01');
    await page.click('button:has-text("Filter")');
    expect(await page.locator('tbody tr').count()).toBe(0);
    await page.close();
  });

  it('refuses an adjustment with no reason, or one over the balance, and says why', async () => {
    const page = await signedIn();
    await page.goto(`${base}/admin/accounts/${accountId}`);
    const before = await entryCount(ctx, accountId);
    await page.fill('input[name=amount]', '-100000');
    await page.fill('input[name=reason]', 'Too much');
    await page.click('button:has-text("Post adjustment")');
    expect(await page.textContent('[role=alert]')).toContain('INSUFFICIENT_CREDITS');
    // Past the browser's own check, to the server's.
    await page.evaluate("document.querySelector('input[name=reason]').removeAttribute('required')");
    await page.fill('input[name=amount]', '5');
    await page.fill('input[name=reason]', '   ');
    await page.click('button:has-text("Post adjustment")');
    expect(await page.textContent('[role=alert]')).toContain('REASON_REQUIRED');
    expect(await entryCount(ctx, accountId)).toBe(before);
    await page.close();
  });

  it('the account page: a subscriber’s plan, what was used of it and when the next grant lands', async () => {
    const subscriber = (await openAccount(ctx, { owner: { kind: 'USER', externalId: `pia-${randomUUID().slice(0, 8)}` } })).accountId;
    await subscribe(ctx, { accountId: subscriber, idempotencyKey: 'plan', actor: service, plan: 'starter' });
    await spend(ctx, { accountId: subscriber, idempotencyKey: 'img', actor: service, charge: { action: 'image', quantity: 10 } });
    const page = await signedIn();
    await page.goto(`${base}/admin/accounts/${subscriber}`);
    const text = await page.textContent('main');
    expect(text).toMatch(/120\s*credits available/);
    expect(text).toMatch(/Starter plan \(active\): 150 credits a month\.\s+This period \(.+ UTC – .+ UTC\): used 30 against the allocation of 150 \(20%\); nothing added besides the plan\./);
    expect(text).not.toMatch(/Used in \d{4}-\d\d/);
    expect(text).toMatch(/Next grant: \+150 on \d{4}-\d\d-\d\d \d\d:\d\d UTC\./);
    await page.close();
  });

  it('voids what is left of one grant, with a reason: a promo of 30 with 12 spent leaves 18, named on the log', async () => {
    const { accountId: rita } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `rita-${randomUUID().slice(0, 8)}`, displayName: 'Rita Void' } });
    await grant(ctx, { accountId: rita, idempotencyKey: 'promo-1', actor: service, type: 'SIGNUP_BONUS', bucket: 'PROMO', amount: 30n });
    await spend(ctx, { accountId: rita, idempotencyKey: 'chat-12', actor: service, charge: { action: 'chat', quantity: 12 } });
    const page = await browser.newPage();
    await page.goto(`${base}/admin/login`);
    await page.fill('input[name=token]', adminToken);
    await page.click('button:has-text("Sign in")');
    await page.goto(`${base}/admin/accounts/${rita}`);
    // Only the grant's row offers Void; the usage row does not.
    expect(await page.locator('#log summary:has-text("Void"), table summary:has-text("Void")').count()).toBe(1);
    await page.click('summary:has-text("Void")');
    await page.fill('form[action$="/voids"] input[name=reason]', 'Promo sent to the wrong account');
    await page.click('button:has-text("Void what is left")');
    const notice = await page.textContent('[role=status]');
    expect(notice).toContain('Voided credits -18 — balance after 0');
    expect(notice).toContain('Promo sent to the wrong account');
    // Voiding again says why not, and writes nothing.
    await page.click('summary:has-text("Void")');
    await page.fill('form[action$="/voids"] input[name=reason]', 'Again');
    await page.click('button:has-text("Void what is left")');
    expect(await page.textContent('[role=alert]')).toContain('ALREADY_VOIDED');
    expect(await entryCount(ctx, rita)).toBe(3);
    await page.close();
  });

  it('a forged CSRF token is refused and writes nothing', async () => {
    const page = await signedIn();
    const cookie = (await page.context().cookies()).find((c) => c.name === 'ck_admin')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/admin' });
    const before = await entryCount(ctx, accountId);
    const forged = await fetch(`${base}/admin/accounts/${accountId}/adjustments`, {
      method: 'POST',
      headers: { cookie: `ck_admin=${cookie.value}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: 'forged', key: randomUUID(), amount: '500', reason: 'free money' }).toString(),
      redirect: 'manual',
    });
    expect(forged.status).toBe(403);
    expect(await entryCount(ctx, accountId)).toBe(before);
    // The same session downloads the log as CSV (the page links it for the current filter).
    const csv = await fetch(`${base}/admin/accounts/${accountId}/activity.csv?filter=USED`, { headers: { cookie: `ck_admin=${cookie.value}` } });
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toMatch(/^date,seq,type,activity/);
    expect(lines.slice(1).every((line) => line.split(',')[2] === 'USAGE')).toBe(true);
    expect((await fetch(`${base}/admin/accounts/${accountId}/activity.csv`, { redirect: 'manual' })).status).toBe(303);
    await page.close();
  });

  it('a one-time login link signs in once', async () => {
    const link = await createLoginLink(ctx, { staffId: 'lee@support' });
    const page = await browser.newPage();
    await page.goto(`${base}/admin/login/${link.secret}`);
    await page.click('button:has-text("Sign in to Creditkeeper")');
    expect(await page.textContent('header')).toContain('lee@support');
    const again = await browser.newPage();
    await again.goto(`${base}/admin/login/${link.secret}`);
    await again.click('button:has-text("Sign in to Creditkeeper")');
    expect(await again.textContent('main')).toContain('used already or has expired');
    await page.close();
    await again.close();
  });

  it('sends a strict Content-Security-Policy and helmet’s headers, and the page still works under it', async () => {
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    const reply = await page.goto(`${base}/admin/login`);
    const headers = reply!.headers();
    const policy = headers['content-security-policy'] ?? '';
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'none'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(policy).not.toContain('unsafe-inline');
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(headers['x-powered-by']).toBeUndefined();
    // The stylesheet is allowed by its hash: the header is dark, as styled.
    expect(await page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor")).toBe('rgb(29, 35, 48)');

    await page.fill('input[name=token]', adminToken);
    await page.click('button:has-text("Sign in")');
    await page.fill('input[name=search]', externalId.slice(0, 10));
    await page.click('button:has-text("Search")');
    await page.click('a:has-text("Maria Lopez")');
    const before = await entryCount(ctx, accountId);
    await page.fill('input[name=amount]', '1');
    await page.fill('input[name=reason]', 'Checking the page under its policy');
    await page.click('button:has-text("Post adjustment")');
    expect(await page.textContent('[role=status]')).toContain('Checking the page under its policy');
    expect(await entryCount(ctx, accountId)).toBe(before + 1);
    await page.click('header a:has-text("Audit log")');
    expect(await page.evaluate("getComputedStyle(document.querySelector('label:has(input[name=from])')).display")).toBe('inline');
    expect(violations).toEqual([]);
    await page.close();
  });

  it('a javascript: source URL planted in the database behind the API is shown as text, not a link', async () => {
    const planted = `https://placeholder.example/${randomUUID()}`;
    await spend(ctx, { accountId, idempotencyKey: `xss-${randomUUID()}`, actor: service, charge: { action: 'chat', quantity: 1 }, source: { kind: 'model', label: 'Planted model', url: planted } });
    await ctx.db.sql.exec('ALTER TABLE entries DISABLE TRIGGER entries_append_only');
    await ctx.db.sql.query(`UPDATE entries SET source_url = 'javascript:alert(document.domain)' WHERE source_url = $1`, [planted]);
    await ctx.db.sql.exec('ALTER TABLE entries ENABLE TRIGGER entries_append_only');
    const page = await signedIn();
    const dialogs: string[] = [];
    page.on('dialog', async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    await page.goto(`${base}/admin/accounts/${accountId}`);
    const label = page.locator('td a', { hasText: 'Planted model' });
    expect(await label.count()).toBe(1);
    expect(await label.getAttribute('href')).toBeNull();
    expect(await page.locator('a[href^="javascript:" i]').count()).toBe(0);
    await label.click();
    expect(dialogs).toEqual([]);
    expect(new URL(page.url()).pathname).toBe(`/admin/accounts/${accountId}`);
    await page.close();
  });

  it('an organisation, its client and its members link to each other; the client shows what it owes, what is in flight, and its plan against what else was added', async () => {
    const tag = randomUUID().slice(0, 6);
    const northwind = (await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: `northwind-${tag}`, name: 'Northwind' } })).accountId;
    const acme = (await openAccount(ctx, { owner: { kind: 'CLIENT', organisationExternalId: `northwind-${tag}`, externalId: `acme-${tag}`, name: 'Acme Shoes' } })).accountId;
    const olga = (await openAccount(ctx, { owner: { kind: 'USER', externalId: `olga-${tag}`, displayName: 'Olga' } })).accountId;
    await openAccount(ctx, { owner: { kind: 'USER', externalId: `ken-${tag}` } });
    await addMember(ctx, { organisationExternalId: `northwind-${tag}`, userExternalId: `olga-${tag}`, role: 'OWNER' });
    await addMember(ctx, { organisationExternalId: `northwind-${tag}`, userExternalId: `ken-${tag}`, role: 'OPERATOR' });
    // Acme: Starter's 150 a month, a top-up of 300, ten images (30) and two submissions in flight (40 + 16 and 40 + 48).
    await subscribe(ctx, { accountId: acme, idempotencyKey: 'plan', actor: service, plan: 'starter' });
    await purchase(ctx, { accountId: acme, idempotencyKey: 'top-up', actor: service, amount: 300n });
    await spend(ctx, { accountId: acme, idempotencyKey: 'images', actor: service, charge: { action: 'image', quantity: 10 } });
    const first = await spend(ctx, { accountId: acme, idempotencyKey: 'submit-1', actor: service, charge: { action: 'submission', clipSeconds: [8, 8] } });
    await spend(ctx, { accountId: acme, idempotencyKey: 'submit-2', actor: service, charge: { action: 'submission', clipSeconds: [8, 8, 8, 8, 8, 8] } });
    // 150 + 300 − 30 − 56 − 88 = 276. The first delivery cost 1,000 against its deposit of 16: the
    // 276 cover part of the 984 more, 708 are owed; the second (88) is still in flight.
    await reconcileDeposit(ctx, { accountId: acme, idempotencyKey: 'delivered-1', actor: service, depositId: first.depositId!, actual: { amount: 1000n } });

    const page = await signedIn();
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${base}/admin/accounts/${northwind}`);
    expect(await page.textContent('h1')).toBe('Northwind organisation');
    expect(await page.textContent('main')).toMatch(/Clients: Acme Shoes/);
    expect(await page.textContent('main')).toMatch(/Members: Olga \(owner\), ken-\w+ \(operator\)/);
    expect(await page.locator(`a[href="/admin/accounts/${olga}"]`).count()).toBe(1);
    await page.screenshot({ path: '/tmp/admin-shots/organisation.png', fullPage: true });

    await page.click('a:has-text("Acme Shoes")');
    expect((await page.textContent('h1'))!.replace(/\s+/g, ' ')).toBe('Acme Shoes client client of Northwind');
    const stats = (await page.textContent('.stats'))!.replace(/\s+/g, ' ');
    expect(stats).toContain('0 credits available');
    expect(stats).toContain('708 outstanding');
    expect(stats).toContain('88 in 1 deposit in flight');
    const main = (await page.textContent('main'))!.replace(/\s+/g, ' ');
    expect(main).toMatch(/Starter plan \(active\): 150 credits a month\. This period \(.+\): used \d+ against the allocation of 150 \(\d+(\.\d)?%\); added besides the plan: 300 \(top-up purchase 300\)\./);
    expect(main).toMatch(/The organisation’s members: Olga \(owner\), ken-\w+ \(operator\)/);
    await page.screenshot({ path: '/tmp/admin-shots/client.png', fullPage: true });

    // Times in the zone the viewer picks, named beside each one.
    expect(await page.textContent('table >> nth=-1 >> tbody tr >> nth=0 >> td >> nth=0')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    await page.selectOption('select[name=zone]', 'Asia/Tokyo');
    await page.click('button:has-text("Set")');
    expect(new URL(page.url()).pathname).toBe(`/admin/accounts/${acme}`);
    expect(await page.textContent('table >> nth=-1 >> tbody tr >> nth=0 >> td >> nth=0')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d GMT\+9$/);
    expect(await page.inputValue('select[name=zone]')).toBe('Asia/Tokyo');
    expect(await page.textContent('main')).toMatch(/a day on average \(Asia\/Tokyo\)/);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: '/tmp/admin-shots/client-phone-tokyo.png', fullPage: true });
    // On a phone the page itself does not scroll sideways (a wide table scrolls inside its card).
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);

    await page.goto(`${base}/admin/accounts/${olga}`);
    expect((await page.textContent('main'))!.replace(/\s+/g, ' ')).toContain('Member of: Northwind (owner)');
    const icon = await fetch(`${base}/admin/favicon.svg`);
    expect(icon.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(await page.getAttribute('link[rel=icon]', 'href')).toBe('/admin/favicon.svg');
    await page.close();
  });

  /** Signed in, with Madrid picked as the zone, on a new account holding 100. */
  async function accountPageInMadrid(name: string): Promise<{ page: Page; accountId: string }> {
    const { accountId } = await openAccount(ctx, { owner: { kind: 'USER', externalId: `${name.toLowerCase().replace(' ', '-')}-${randomUUID().slice(0, 8)}`, displayName: name } });
    await purchase(ctx, { accountId, idempotencyKey: 'order-1', actor: service, amount: 100n });
    const page = await signedIn();
    await page.goto(`${base}/admin/accounts/${accountId}`);
    await page.selectOption('select[name=zone]', madrid);
    await page.click('form.zone button');
    return { page, accountId };
  }

  async function grantOnPage(page: Page, fields: { amount: string; reason: string; effectiveAt?: string; expiresAt?: string; bucket?: string }): Promise<void> {
    const form = 'form[action$="/grants"]';
    await page.selectOption(`${form} select[name=bucket]`, fields.bucket ?? 'BONUS');
    await page.fill(`${form} input[name=amount]`, fields.amount);
    await page.fill(`${form} input[name=reason]`, fields.reason);
    if (fields.effectiveAt) await page.fill(`${form} input[name=effectiveAt]`, fields.effectiveAt);
    if (fields.expiresAt) await page.fill(`${form} input[name=expiresAt]`, fields.expiresAt);
    await page.click(`${form} button:has-text("Grant")`);
  }

  it('500 promo for tomorrow 09:00 Madrid is listed, not added; once due and caught up it is a normal entry of +500', async () => {
    const { page, accountId } = await accountPageInMadrid('Lucia Dated');
    const nine = fieldInMadrid(inDays(1)).slice(0, 10) + 'T09:00';
    const reason = 'Launch gift <script>alert(1)</script>';
    await grantOnPage(page, { bucket: 'PROMO', amount: '500', reason, effectiveAt: nine, expiresAt: nine.slice(0, 10) + 'T23:59' });

    const [row] = await ctx.db.sql.query<{ effective_at: Date }>('SELECT effective_at FROM scheduled_writes WHERE account_id = $1::uuid', [accountId]);
    const due = new Date(row!.effective_at);
    expect(fieldInMadrid(due)).toBe(nine);
    expect(await page.textContent('[role=status]')).toBe(`Scheduled: 500 promo credits on ${when(due, madrid)}. They land then; until then it can be cancelled below.`);
    expect(await page.textContent('.stats')).toMatch(/100\s*credits available/);
    const listed = page.locator('h2:has-text("Scheduled to land") + table tbody tr');
    expect(await listed.count()).toBe(1);
    const cells = await listed.locator('td').allTextContents();
    expect(cells.slice(0, 4)).toEqual([when(due, madrid), '+500', 'promo', when(new Date(due.getTime() + (14 * 60 + 59) * 60_000), madrid)]);
    expect(cells[4]).toContain('ana@support (staff)');
    // The reason is text on the page, never markup.
    expect(cells[5]).toBe(reason);
    expect(await page.content()).toContain('Launch gift &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(await page.locator('main script').count()).toBe(0);
    await page.screenshot({ path: '/tmp/dated-shots/scheduled.png', fullPage: true });

    await ctx.db.sql.query(`UPDATE scheduled_writes SET effective_at = clock_timestamp() - interval '1 second' WHERE account_id = $1::uuid`, [accountId]);
    await landScheduledWrites(ctx, { logger: pino({ level: 'silent' }) });
    await landScheduledWrites(ctx, { logger: pino({ level: 'silent' }) });
    await page.goto(`${base}/admin/accounts/${accountId}`);
    expect(await page.locator('h2:has-text("Scheduled to land")').count()).toBe(0);
    expect(await page.textContent('.stats')).toMatch(/600\s*credits available/);
    const newest = await page.textContent('h2:has-text("Credit activity") ~ table tbody tr >> nth=0');
    expect(newest).toContain('+500');
    expect(newest).toContain('600');
    expect(newest).toContain('ana@support (staff)');
    expect([await balanceOf(ctx, accountId), await entryCount(ctx, accountId)]).toEqual([600n, 2]);
    await page.screenshot({ path: '/tmp/dated-shots/landed.png', fullPage: true });
    await page.close();
  });

  it('cancel before it is due: it never lands, and the cancel is audited with its reason; a past date is refused with the form kept', async () => {
    const { page, accountId } = await accountPageInMadrid('Marco Cancel');
    await grantOnPage(page, { amount: '200', reason: 'Spring promo', effectiveAt: fieldInMadrid(inDays(2)) });
    await page.click('summary:has-text("Cancel")');
    await page.fill('form[action$="/cancellations"] input[name=reason]', 'Promo called off');
    await page.click('button:has-text("Cancel it")');
    expect(await page.textContent('[role=status]')).toContain('Cancelled: it will not land.');
    expect(await page.locator('h2:has-text("Scheduled to land")').count()).toBe(0);
    await ctx.db.sql.query(`UPDATE scheduled_writes SET effective_at = clock_timestamp() - interval '1 second' WHERE account_id = $1::uuid`, [accountId]);
    expect(await landScheduledWrites(ctx, { logger: pino({ level: 'silent' }) })).toMatchObject({ landed: 0 });
    expect(await balanceOf(ctx, accountId)).toBe(100n);
    const audit = await ctx.db.sql.query<{ action: string; actor_id: string; reason: string }>(
      `SELECT action, actor_id, reason FROM audit_log WHERE account_id = $1::uuid AND action LIKE 'grant.%' ORDER BY created_at`,
      [accountId],
    );
    expect(audit).toEqual([
      { action: 'grant.scheduled', actor_id: 'ana@support', reason: 'Spring promo' },
      { action: 'grant.cancelled', actor_id: 'ana@support', reason: 'Promo called off' },
    ]);

    const minuteAgo = fieldInMadrid(new Date(Date.now() - 60_000));
    await grantOnPage(page, { amount: '50', reason: 'Backdated', effectiveAt: minuteAgo });
    expect(await page.textContent('[role=alert]')).toContain('VALIDATION_FAILED: effectiveAt must be in the future');
    expect(await page.inputValue('form[action$="/grants"] input[name=effectiveAt]')).toBe(minuteAgo);
    expect(await page.inputValue('form[action$="/grants"] input[name=amount]')).toBe('50');
    expect(await page.inputValue('form[action$="/adjustments"] input[name=amount]')).toBe('');
    await page.screenshot({ path: '/tmp/dated-shots/refused.png', fullPage: true });
    expect(await entryCount(ctx, accountId)).toBe(1);
    await page.close();
  });

  async function signedIn() {
    const page = await browser.newPage();
    await page.goto(`${base}/admin/login`);
    await page.fill('input[name=token]', adminToken);
    await page.click('button:has-text("Sign in")');
    return page;
  }
});
