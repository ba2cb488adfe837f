import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../admin/app.js';
import { createApiToken } from '../../core/access/createApiToken.js';
import { addMember } from '../../core/accounts/addMember.js';
import { openAccount } from '../../core/accounts/openAccount.js';
import { adjust } from '../../core/ledger/adjust.js';
import { grant } from '../../core/ledger/grant.js';
import { purchase } from '../../core/ledger/purchase.js';
import { refund } from '../../core/ledger/refund.js';
import { spend } from '../../core/ledger/spend.js';
import { subscribe } from '../../core/plans/subscribe.js';
import { client } from '../support/api.js';
import { key, service, staff, useFreshLedger } from '../support/scenario.js';

/**
 * The users' own credits page in a real headless Chromium, at a phone's width and a desktop's, for an agency's
 * client, a user with 23 rows and an organisation on Starter: the host mints a link over the API, the browser opens it.
 */
const shots = '/tmp/portal-shots';
const widths = [375, 1280] as const;

describe('the credits page (/portal) in a browser', () => {
  const ctx = useFreshLedger('pglite');
  let browser: Browser;
  let base = '';
  let close = () => {};
  let host: ReturnType<typeof client>;
  const run = randomUUID().slice(0, 6);
  const ids = { acme: '', castaly: '', lumen: '' };
  const people = { nora: `nora-${run}`, castaly: `casey-${run}`, ken: `ken-${run}`, ola: `ola-${run}`, stranger: `stranger-${run}` };

  beforeAll(async () => {
    ctx.costPerCredit = { amount: '0.05', currency: 'USD' };
    const server = createApp(ctx, pino({ level: 'silent' })).listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
    host = client(base, (await createApiToken(ctx, { name: 'host-product', scopes: ['SERVICE', 'READ'], actor: staff })).secret);
    for (const user of Object.values(people)) await openAccount(ctx, { owner: { kind: 'USER', externalId: user, timeZone: 'Europe/Madrid' } });

    // The agency's client Acme Shoes; a six-clip creative at 8 seconds is one −88 entry.
    await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: `northwind-${run}`, name: 'Northwind Creative' } });
    ids.acme = (await openAccount(ctx, { owner: { kind: 'CLIENT', organisationExternalId: `northwind-${run}`, externalId: 'acme', name: 'Acme Shoes' } })).accountId;
    await addMember(ctx, { organisationExternalId: `northwind-${run}`, userExternalId: people.nora, role: 'ADMIN' });
    await purchase(ctx, { accountId: ids.acme, idempotencyKey: key(), actor: service, amount: 200n, description: 'Manual top up', source: { kind: 'invoice', id: 'INV-77' } });
    await spend(ctx, {
      accountId: ids.acme, idempotencyKey: key(), actor: { kind: 'USER', id: people.nora },
      charge: { action: 'submission', clipSeconds: [8, 8, 8, 8, 8, 8] },
      source: { kind: 'creative', id: '77', label: 'Creative 77', url: 'https://studio.example/creatives/77' },
    });

    // 23 rows — 2 added, 19 used (one a group of two images, one 15% off), 2 adjustments.
    ids.castaly = (await openAccount(ctx, { owner: { kind: 'USER', externalId: people.castaly } })).accountId;
    const castaly = ids.castaly;
    await purchase(ctx, { accountId: castaly, idempotencyKey: key(), actor: service, amount: 500n });
    await grant(ctx, { accountId: castaly, idempotencyKey: key(), actor: service, type: 'SIGNUP_BONUS', bucket: 'BONUS', amount: 10n });
    let chat = '';
    for (let i = 1; i <= 17; i++) {
      const spent = await spend(ctx, { accountId: castaly, idempotencyKey: key(), actor: service, charge: { action: 'chat', quantity: 1 }, source: { kind: 'project', id: `p${i}`, label: `Project ${i}` } });
      chat = spent.entries[0]!.id;
    }
    for (let i = 0; i < 2; i++) {
      await spend(ctx, { accountId: castaly, idempotencyKey: key(), actor: service, charge: { action: 'image', quantity: 1 }, source: { kind: 'project', id: 'logo', label: 'Logo ideas' } });
    }
    await spend(ctx, { accountId: castaly, idempotencyKey: key(), actor: service, discountPercent: 15, charge: { amount: 20n, category: 'Runtime usage', description: 'Over-quota runtime' }, source: { kind: 'app', id: 'shop' } });
    await refund(ctx, { accountId: castaly, idempotencyKey: key(), actor: service, entryId: chat });
    await adjust(ctx, { accountId: castaly, idempotencyKey: key(), actor: staff, amount: 5n, reason: 'Support credit for a failed build' });

    // Lumen Events on Starter, photo processing at events by its operator ken.
    ids.lumen = (await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: `lumen-${run}`, name: 'Lumen Events' } })).accountId;
    await addMember(ctx, { organisationExternalId: `lumen-${run}`, userExternalId: people.ken, role: 'OPERATOR' });
    await addMember(ctx, { organisationExternalId: `lumen-${run}`, userExternalId: people.ola, role: 'OWNER' });
    await subscribe(ctx, { accountId: ids.lumen, idempotencyKey: key(), actor: service, plan: 'starter' });
    await purchase(ctx, { accountId: ids.lumen, idempotencyKey: key(), actor: service, amount: 1000n, source: { kind: 'order', id: 'ORD-9' } });
    for (const [event, label, photos] of [['4711', 'Smith wedding', 12], ['4712', 'Tech meetup', 18]] as const) {
      await spend(ctx, {
        accountId: ids.lumen, idempotencyKey: key(), actor: { kind: 'USER', id: people.ken },
        charge: { action: 'photo_processing', quantity: photos },
        source: { kind: 'event', id: event, label, url: `https://lumen.example/events/${event}` },
      });
    }

    mkdirSync(shots, { recursive: true });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    close();
  });

  /** What the host does: mint a link for its signed-in user (POST /v1/portal-sessions). */
  async function mint(accountId: string, userExternalId: string, options: Record<string, unknown> = {}): Promise<string> {
    const reply = await host('POST', '/v1/portal-sessions', { body: { accountId, userExternalId, ...options } });
    expect(reply.status, reply.text).toBe(201);
    return `${base}${reply.body.path as string}`;
  }

  /** The viewers' browsers are where they live: Madrid, like the zone their accounts have. */
  async function openAt(width: number, link: string, browserZone = 'Europe/Madrid'): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width, height: 900 }, timezoneId: browserZone });
    const page = await context.newPage();
    const reply = await page.goto(link);
    expect(reply?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/portal');
    return { context, page };
  }

  /** Saves the page for a look, and checks nothing runs off the side of a phone. */
  async function shoot(page: Page, name: string, width: number): Promise<void> {
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
    await page.screenshot({ path: `${shots}/${name}-${width}.png`, fullPage: true });
  }

  const text = (page: Page, selector = 'main') => page.locator(selector).innerText();

  for (const width of widths) {
    describe(`at ${width} px`, () => {
      it('the −88 submission row links to its creative, in flight until delivery; /why says so and adds up', async () => {
        const { context, page } = await openAt(width, await mint(ids.acme, people.nora, { storeUrl: 'https://studio.example/store' }));
        expect(await text(page, 'header h1')).toBe('Acme Shoes');
        expect(await text(page, '[data-testid=available]')).toBe('112');
        const inFlight = await text(page, '.card.warn');
        expect(inFlight).toContain('88');
        expect(inFlight).toContain('1 submission: deducted at submit');
        const row = page.locator('#log tbody tr', { hasText: 'Submission' });
        expect(await row.innerText()).toContain('-88');
        expect(await row.innerText()).toContain('112');
        expect(await row.locator('a', { hasText: 'Creative 77' }).getAttribute('href')).toBe('https://studio.example/creatives/77');
        expect(await text(page, '[data-testid=showing]')).toBe('Showing 1–2 of 2');
        // An admin of the agency may buy: the button goes to the host's store.
        expect(await page.locator('a.button', { hasText: 'Purchase credits' }).getAttribute('href')).toBe('https://studio.example/store');
        await shoot(page, 'submission-in-flight', width);

        await page.click('header nav a:has-text("Why is my balance this?")');
        expect(await text(page, '[data-testid=now]')).toBe('Now: 112 (0 + 112, it adds up).');
        expect(await text(page)).toContain('1 submission(s) still in flight: 88 credits were deducted at submit and reconcile after delivery.');
        await page.fill('input[name=expected]', '200');
        await page.click('button:has-text("Explain")');
        expect(await text(page, '[role=status]')).toMatch(/Your balance was 200 on .*; since then: Submission -88 \(-88 in all\)\./);
        await shoot(page, 'why-with-submission-in-flight', width);
        await context.close();
      });

      it('"Showing 1–8 of 23", Next, and a filter change goes back to page 1; a 15% off row; a grouped row opens', async () => {
        const { context, page } = await openAt(width, await mint(ids.castaly, people.castaly, { pageSize: 8 }));
        expect(await text(page, '[data-testid=showing]')).toBe('Showing 1–8 of 23');
        await page.click('a[rel=next]');
        expect(await text(page, '[data-testid=showing]')).toBe('Showing 9–16 of 23');
        await page.click('.segments a:has-text("Used")');
        expect(await text(page, '[data-testid=showing]')).toBe('Showing 1–8 of 19');
        expect(await page.locator('.segments a[aria-current]').innerText()).toBe('Used');

        const discounted = page.locator('#log tbody tr', { hasText: '% off' });
        expect(await discounted.locator('s').innerText()).toBe('-20');
        expect(await discounted.locator('.badge').innerText()).toBe('15% off');
        expect(await discounted.innerText()).toContain('-17');
        await shoot(page, 'used-rows-with-discount', width);

        await page.click('#log a:has-text("×2")');
        expect(await text(page, 'h2')).toBe('2 entries in one activity row: -6 credits');
        expect(await page.locator('tbody tr').count()).toBe(2);
        await page.click('a:has-text("Back to credit activity")');

        await page.click('.segments a:has-text("Adjustments")');
        expect(await text(page, '[data-testid=showing]')).toBe('Showing 1–2 of 2');
        expect(await text(page, '#log tbody')).toContain('Support credit for a failed build');
        await page.click('.segments a:has-text("Added")');
        expect(await text(page, '[data-testid=showing]')).toBe('Showing 1–2 of 2');
        await context.close();
      });

      it('an operator sees the pool, its usage by event and user, the month cards — and no Purchase button', async () => {
        const { context, page } = await openAt(width, await mint(ids.lumen, people.ken, { storeUrl: 'https://lumen.example/store', timeZone: 'America/New_York' }));
        expect(await text(page, 'header h1')).toBe('Lumen Events');
        expect(await page.locator('a:has-text("Purchase credits")').count()).toBe(0);
        // The cards: 150 plan + 1,000 bought − 30 photos; 30 of Starter's 150 used, 20%.
        expect(await text(page, '[data-testid=available]')).toBe('1,120');
        const cards = await text(page, '.cards');
        expect(cards).toMatch(/Total used\s+30\s/);
        expect(cards).toMatch(/Usage rate\s+20%\s/);
        expect(await page.locator('meter').getAttribute('value')).toBe('20');
        // The 30-day chart: one bar a day, with its total and average.
        expect(await page.locator('svg.chart rect').count()).toBe(30);
        expect(await text(page)).toContain('30 credits used in 30 days · 1 a day on average');
        // Four monthly cards, the first marked Current.
        expect(await page.locator('.months .card').count()).toBe(4);
        expect(await page.locator('.months .card').first().locator('.badge').innerText()).toBe('Current');
        expect(await page.locator('.months .badge').count()).toBe(1);
        // Cost per credit behind Show/Hide, no script needed.
        expect(await page.locator('details summary').innerText()).toBe('Show cost per credit');
        await page.click('details summary');
        expect(await page.locator('details').innerText()).toContain('One credit costs 0.05 USD.');
        expect(await page.locator('details summary').innerText()).toBe('Hide cost per credit');
        expect(await text(page, '#log')).toContain('Times in America/New_York');

        await page.click('.tabs a:has-text("Credit usage")');
        const wedding = page.locator('#log tbody tr', { hasText: 'Smith wedding' });
        const cells = await wedding.locator('td').allInnerTexts();
        expect(cells.map((c) => c.trim()).slice(1, 5)).toEqual(['-12', 'Smith wedding', '4711', people.ken]);
        expect(await wedding.locator('a').getAttribute('href')).toBe('https://lumen.example/events/4711');
        await shoot(page, 'pool-usage-as-operator', width);
        await page.click('.tabs a:has-text("Purchase history")');
        expect(await text(page, '#log tbody')).toContain('Top-up purchase');
        expect(await text(page, '#log tbody')).toContain('Monthly grant');
        expect(await text(page, '#log tbody')).not.toContain('Smith wedding');

        await page.click('header nav a:has-text("Why is my balance this?")');
        expect(await text(page)).toContain('Where the usage went');
        expect(await text(page)).toContain('Tech meetup');
        await context.close();
      });

      it('the owner may buy, and reads dates and numbers in the host’s language', async () => {
        const { context, page } = await openAt(width, await mint(ids.lumen, people.ola, { storeUrl: 'https://lumen.example/store', locale: 'de-DE', timeZone: 'Europe/Berlin' }));
        expect(await page.locator('a.button', { hasText: 'Purchase credits' }).getAttribute('href')).toBe('https://lumen.example/store');
        expect(await page.getAttribute('html', 'lang')).toBe('de-DE');
        expect(await text(page, '[data-testid=available]')).toBe('1.120');
        // A German date: "17.12.2026, 09:30" — day first, with dots.
        expect(await text(page, '#log tbody tr >> nth=0')).toMatch(/\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}/);
        await shoot(page, 'owner-in-german', width);
        await context.close();
      });
    });
  }

  it('shows times in the zone of the viewer’s browser, unless the host chose one; without script, in the zone it names', async () => {
    const firstRow = '#log tbody tr >> nth=0';
    const [latest] = await ctx.db.sql.query<{ at: Date }>(`SELECT max(created_at) AS at FROM entries WHERE account_id = $1::uuid`, [ids.acme]);
    const timeIn = (timeZone: string) => new Intl.DateTimeFormat('en', { timeZone, timeStyle: 'short' }).format(latest!.at);

    // nora's account says Madrid; her browser is in Tokyo (UTC+9, no summer time): the page follows the browser.
    const tokyo = await openAt(1280, await mint(ids.acme, people.nora), 'Asia/Tokyo');
    await tokyo.page.waitForURL(`${base}/portal`);
    expect(await text(tokyo.page, 'body')).toContain('Times in Asia/Tokyo');
    expect(await text(tokyo.page, firstRow)).toContain(timeIn('Asia/Tokyo'));
    // Told once: the next page is in Tokyo too, and the browser is not asked again.
    await tokyo.page.goto(`${base}/portal/why`);
    expect(await text(tokyo.page, 'body')).toContain('Times in Asia/Tokyo');
    expect(await tokyo.page.locator('script').count()).toBe(0);
    await tokyo.context.close();

    // The host said New York: a Tokyo browser does not change that.
    const chosen = await openAt(1280, await mint(ids.acme, people.nora, { timeZone: 'America/New_York' }), 'Asia/Tokyo');
    expect(await text(chosen.page, 'body')).toContain('Times in America/New_York');
    expect(await text(chosen.page, firstRow)).toContain(timeIn('America/New_York'));
    expect(await chosen.page.locator('script').count()).toBe(0);
    await chosen.context.close();

    // Without script: the account's zone, named on the page.
    const context = await browser.newContext({ viewport: { width: 375, height: 900 }, timezoneId: 'Asia/Tokyo', javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(await mint(ids.acme, people.nora));
    expect(await text(page, 'body')).toContain('Times in Europe/Madrid');
    await context.close();
  });

  it('takes a zone only from its own session, for its own pages', async () => {
    const { context, page } = await openAt(375, await mint(ids.castaly, people.castaly), 'Europe/Madrid');
    const cookie = (await context.cookies()).find((c) => c.name === 'ck_portal')!;
    const post = (body: string, withCookie = true) =>
      fetch(`${base}/portal/zone`, {
        method: 'POST', redirect: 'manual', body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(withCookie && { cookie: `ck_portal=${cookie.value}` }) },
      });
    // Off-site or odd destinations go back to the credits page.
    for (const to of ['https://evil.example/', '//evil.example/', '/admin', '/portal\\@evil.example']) {
      const reply = await post(`timeZone=Europe%2FMadrid&to=${encodeURIComponent(to)}`);
      expect(reply.status).toBe(303);
      expect(reply.headers.get('location')).toBe('/portal');
    }
    // A made-up zone keeps the one it had; a session already told is not told again.
    await post('timeZone=Mars%2FOlympus&to=/portal');
    expect(await text(page, 'body')).toContain('Times in Europe/Madrid');
    await post('timeZone=Asia%2FTokyo&to=/portal');
    await page.reload();
    expect(await text(page, 'body')).toContain('Times in Europe/Madrid');
    // No cookie: nothing changes anywhere, and the visitor lands on the expired page.
    const anonymous = await post('timeZone=Asia%2FTokyo&to=/portal', false);
    expect(anonymous.status).toBe(303);
    await context.close();
  });

  it('an expired link, a used one and a made-up one each get a clear page with nothing of any account', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
    const expired = await mint(ids.acme, people.nora);
    await ctx.db.sql.query(`UPDATE portal_sessions SET link_expires_at = now() - interval '1 second' WHERE opened_at IS NULL`);
    const madeUp = `${base}/portal/open?token=${'A'.repeat(43)}`;
    for (const link of [expired, madeUp, `${base}/portal/open?token=javascript:alert(1)`, `${base}/portal`]) {
      const reply = await page.goto(link);
      expect(reply?.status()).toBe(401);
      expect(await text(page, 'h2')).toBe('This link has expired');
      expect(await text(page, 'body')).not.toMatch(/Acme|Lumen|112|Available/);
    }
    await page.screenshot({ path: `${shots}/expired-375.png`, fullPage: true });

    const once = await mint(ids.acme, people.nora);
    await (await openAt(375, once)).context.close();
    const again = await page.goto(once);
    expect(again?.status()).toBe(401);
    expect(await text(page, 'h2')).toBe('This link has expired');
    await page.close();
  });

  it('is minted only for someone who may see the account, by a token that reaches it', async () => {
    const stranger = await host('POST', '/v1/portal-sessions', { body: { accountId: ids.lumen, userExternalId: people.stranger } });
    expect(stranger.status).toBe(403);
    expect(stranger.body.error.code).toBe('ROLE_FORBIDDEN');
    // ken is Lumen's, not Northwind's: no link to Acme for him.
    expect((await host('POST', '/v1/portal-sessions', { body: { accountId: ids.acme, userExternalId: people.ken } })).status).toBe(403);
    const badStore = await host('POST', '/v1/portal-sessions', { body: { accountId: ids.lumen, userExternalId: people.ola, storeUrl: 'javascript:alert(1)' } });
    expect(badStore.status).toBe(400);
    expect(badStore.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('the portal cookie reaches exactly its account: not /admin, not the API, not another account', async () => {
    const { context, page } = await openAt(1280, await mint(ids.lumen, people.ken));
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'ck_portal', path: '/portal', httpOnly: true, sameSite: 'Lax' });
    const headers = (await page.goto(`${base}/portal`))!.headers();
    // One script, allowed by its hash: the one that reports the browser's zone.
    expect(headers['content-security-policy']).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+';/);
    expect(headers['content-security-policy']).not.toContain('unsafe');
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");

    // The browser does not send it to /admin, and /admin would not take it if it did.
    await page.goto(`${base}/admin`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    const asAdmin = await fetch(`${base}/admin`, { headers: { cookie: `ck_admin=${cookie!.value}; ck_portal=${cookie!.value}` }, redirect: 'manual' });
    expect(asAdmin.status).toBe(303);
    expect(asAdmin.headers.get('location')).toBe('/admin/login');
    // Nor is it an API token.
    expect((await client(base, cookie!.value)('GET', `/v1/accounts/${ids.lumen}/balance`)).status).toBe(401);

    // No page takes an account from the address: naming another is refused, and another
    // account's grouped row is not found on this one.
    const named = await page.goto(`${base}/portal?accountId=${ids.acme}`);
    expect(named?.status()).toBe(400);
    expect(await text(page, 'body')).not.toContain('Acme');
    const acmeRows = await ctx.db.sql.query<{ seq: string }>('SELECT seq::text FROM entries WHERE account_id = $1::uuid ORDER BY seq DESC LIMIT 1', [ids.acme]);
    const foreignRow = await page.goto(`${base}/portal/groups/${acmeRows[0]!.seq}`);
    expect(await text(page, 'body')).not.toContain('Creative 77');
    expect(foreignRow?.status()).not.toBe(500);
    await context.close();
  });

  it('reads the viewer’s role on every page: an admin made viewer loses the Purchase button at once', async () => {
    const admin = `admin-${run}`;
    await openAccount(ctx, { owner: { kind: 'USER', externalId: admin } });
    await addMember(ctx, { organisationExternalId: `lumen-${run}`, userExternalId: admin, role: 'ADMIN' });
    const { context, page } = await openAt(1280, await mint(ids.lumen, admin, { storeUrl: 'https://lumen.example/store' }));
    expect(await page.locator('a:has-text("Purchase credits")').count()).toBe(1);
    await addMember(ctx, { organisationExternalId: `lumen-${run}`, userExternalId: admin, role: 'VIEWER' });
    await page.reload();
    expect(await page.locator('a:has-text("Purchase credits")').count()).toBe(0);
    expect(await text(page, '[data-testid=available]')).toBe('1,120');
    // /why from a date the viewer picks: from the start of that day, everything since still adds up.
    await page.goto(`${base}/portal/why?expected=&since=2026-01-01`);
    expect(await text(page, '[data-testid=now]')).toBe('Now: 1,120 (0 + 1,120, it adds up).');
    await context.close();
  });

  it("/why since 5 April 2026 in Sydney, the day its clocks go back at 03:00: from that day's local midnight (AEDT), not an hour later", async () => {
    const { context, page } = await openAt(1280, await mint(ids.lumen, people.ola, { locale: 'en-GB', timeZone: 'Australia/Sydney' }));
    await page.goto(`${base}/portal/why?since=2026-04-05`);
    expect(await text(page)).toContain('From 5 Apr 2026, 00:00 your balance was');
    await context.close();
  });

  it('framed only by the host page the session names', async () => {
    const { context, page } = await openAt(1280, await mint(ids.lumen, people.ola, { embedOrigin: 'https://app.lumen.example/settings/credits' }));
    const headers = (await page.goto(`${base}/portal`))!.headers();
    expect(headers['content-security-policy']).toContain('frame-ancestors https://app.lumen.example;');
    expect(headers['x-frame-options']).toBeUndefined();
    await context.close();
  });
});
