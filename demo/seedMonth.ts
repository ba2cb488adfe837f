/**
 * `npm run demo`: an embedded database (DATA_DIR, default ./data) with a realistic month behind
 * it, so the console bot, the admin page and the API show something real at once. Everything is
 * written through the real use-cases, day by day, each day then moved into the past
 * (demo/timeMachine.ts); renewals land through the same job the cron runs. The seed scenarios:
 *  - maria: Free (12 a week), links Discord on day 2 (the one-time 5), chats, makes
 *    images, watches rewarded ads (verified callbacks), buys 50 credits once;
 *  - Acme Shoes, a client of the agency Northwind on Growth (325 a month): submissions
 *    with clip deposits reconciled after delivery, one cancelled, auto-reload of 50, an admin
 *    adjustment with a note, a renewal on the billing anniversary;
 *  - Lumen Events on Scale (575): photo processing at events, by its operators.
 */
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { pino } from 'pino';
import { createApiToken } from '../core/access/createApiToken.js';
import { createLoginLink } from '../core/access/createLoginLink.js';
import { createPortalSession } from '../core/access/createPortalSession.js';
import { addMember } from '../core/accounts/addMember.js';
import { openAccount } from '../core/accounts/openAccount.js';
import { setAutoReload } from '../core/billing/autoReloadSettings.js';
import { databaseTarget, loadConfig } from '../core/config.js';
import { type CoreContext, createCoreContext } from '../core/context.js';
import { openDatabase } from '../core/db/database.js';
import { claimLinkCode } from '../core/identity/claimLinkCode.js';
import { createLinkCode } from '../core/identity/createLinkCode.js';
import { adjust } from '../core/ledger/adjust.js';
import { getBalance } from '../core/ledger/getBalance.js';
import { purchase } from '../core/ledger/purchase.js';
import { reconcileDeposit } from '../core/ledger/reconcileDeposit.js';
import { spend } from '../core/ledger/spend.js';
import { verifyLedger } from '../core/ledger/verify.js';
import { voidDeposit } from '../core/ledger/voidDeposit.js';
import { renewDueSubscriptions } from '../core/plans/renewDueSubscriptions.js';
import { subscribe } from '../core/plans/subscribe.js';
import { rewardAdView } from '../core/rewards/rewardAdView.js';
import { moveHistoryBack } from './timeMachine.js';

const days = 30;
const logger = pino({ level: 'warn' });
const service = { kind: 'SERVICE', id: 'demo-host-product' } as const;
const staff = { kind: 'STAFF', id: 'ana@support' } as const;

/** The same month every time: a small deterministic generator instead of Math.random. */
let seed = 20261121;
const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

async function main(): Promise<void> {
  const config = loadConfig();
  const target = databaseTarget(config);
  if (target.kind !== 'embedded') throw new Error('npm run demo fills an embedded database: unset DATABASE_URL');
  const db = await openDatabase(target);
  try {
    const ctx = demoContext(createCoreContext(db, config));
    if ((await db.prisma.account.count()) > 0) {
      console.error(`${target.dataDir} already has accounts: run the demo on an empty one, e.g. DATA_DIR=./demo-data npm run demo`);
      process.exitCode = 2;
      return;
    }
    const cast = await openAccounts(ctx);
    const inFlight: { accountId: string; depositId: string; clips: number[] }[] = [];
    for (let day = 0; day <= days; day++) {
      // Three sittings a day: morning, afternoon, evening; the last day ends now.
      for (const [sitting, hoursToNext] of [
        ['morning', 5],
        ['afternoon', 6],
        ['evening', 13],
      ] as const) {
        await renewDueSubscriptions(ctx, { logger });
        await maria(ctx, cast.maria, day, sitting);
        await acme(ctx, cast.acme, day, sitting, inFlight);
        await lumen(ctx, cast.lumen, day, sitting);
        if (day < days || sitting !== 'evening') await moveHistoryBack(db, hoursToNext * 60);
      }
    }
    const report = await verifyLedger(db);
    if (!report.ok) throw new Error(`the demo month breaks an invariant: ${JSON.stringify(report.checks.filter((c) => c.violations.length))}`);
    const token = await createApiToken(ctx, { name: 'demo', scopes: ['SERVICE', 'READ', 'ADMIN'], actor: staff });
    const signIn = await createLoginLink(ctx, { staffId: 'ana@support' });
    // What the host product does for a signed-in user: maria's own page, and an operator's of the pool.
    const store = 'https://shop.example.com/credits';
    const mariaPage = await createPortalSession(ctx, { accountId: cast.maria, userExternalId: 'maria', storeUrl: store, createdBy: 'demo' });
    const kenPage = await createPortalSession(ctx, { accountId: cast.lumen, userExternalId: 'ken', storeUrl: store, createdBy: 'demo' });
    const balances = await Promise.all(Object.entries(cast).map(async ([name, id]) => `${name} ${(await getBalance(ctx, { accountId: id })).balance}`));
    console.log(`A month of history in ${target.dataDir}: ${report.accounts} accounts, ${report.entries} entries, every invariant holds.
Balances now: ${balances.join(', ')}.

  npm start                         then open http://localhost:${config.PORT}/admin/login/${signIn.secret} (once, 15 minutes;
                                    later: npm run creditkeeper -- login-link --staff ana@support)
  maria's credits page:             http://localhost:${config.PORT}${mariaPage.path}
  ken's (Lumen Events, operator):   http://localhost:${config.PORT}${kenPage.path}
                                    (each once, 15 minutes; later: POST /v1/portal-sessions with the token below)
  API token (every scope):          ${token.secret}
  curl -H "Authorization: Bearer ${token.secret}" localhost:${config.PORT}/v1/accounts/${cast.acme}/why
  npm run chat -- --as maria        (with npm start stopped) then /credits, /activity, /why, /usage
  npm run chat -- --as olga         /credits account:northwind/acme — the client, as its operator`);
  } finally {
    await db.close();
  }
}

/**
 * The demo's own stand-ins for the two outside parties a month of history needs: the ad network
 * (a key pair of its own; callbacks signed as AdMob signs them and checked by the real verifier)
 * and the card processor behind auto-reload (it always charges).
 */
const adNetwork = generateKeyPairSync('ec', { namedCurve: 'P-256' });
function demoContext(ctx: CoreContext): CoreContext {
  return {
    ...ctx,
    adKeys: { key: async (keyId) => (keyId === '1' ? adNetwork.publicKey : undefined) },
    payments: { charge: async () => ({ chargeId: `ch_demo_${randomUUID().slice(0, 8)}` }) },
  };
}

function adCallback(userId: string): string {
  const fields = new URLSearchParams({ ad_network: 'demo', ad_unit: 'rewarded-1', timestamp: String(Date.now()), transaction_id: randomUUID(), user_id: userId });
  const signature = sign('sha256', Buffer.from(fields.toString()), { key: adNetwork.privateKey, dsaEncoding: 'der' }).toString('base64url');
  return `${fields}&signature=${signature}&key_id=1`;
}

async function openAccounts(ctx: CoreContext) {
  const maria = (await openAccount(ctx, { owner: { kind: 'USER', externalId: 'maria', displayName: 'Maria', timeZone: 'Europe/Madrid' } })).accountId;
  // Subscriptions count periods in UTC here: the demo moves history back in UTC hours, which would
  // shift a local anniversary across the daylight-saving change in between.
  await subscribe(ctx, { accountId: maria, idempotencyKey: 'demo-maria-free', actor: service, plan: 'free' });

  await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: 'northwind', name: 'Northwind Creative' } });
  const acme = (await openAccount(ctx, { owner: { kind: 'CLIENT', organisationExternalId: 'northwind', externalId: 'acme', name: 'Acme Shoes' } })).accountId;
  await openAccount(ctx, { owner: { kind: 'USER', externalId: 'olga', displayName: 'Olga', timeZone: 'Europe/London' } });
  await addMember(ctx, { organisationExternalId: 'northwind', userExternalId: 'olga', role: 'OPERATOR' });
  // Acme's anniversary falls ten days into the demo month, so a renewal shows.
  await subscribe(ctx, { accountId: acme, idempotencyKey: 'demo-acme-growth', actor: service, plan: 'growth', anchorAt: new Date(Date.now() - 20 * 86_400_000) });
  await setAutoReload(ctx, { accountId: acme, enabled: true, amount: 50n, monthlyLimit: 200n });

  const lumen = (await openAccount(ctx, { owner: { kind: 'ORGANISATION', externalId: 'lumen', name: 'Lumen Events' } })).accountId;
  for (const operator of ['ken', 'lia']) {
    await openAccount(ctx, { owner: { kind: 'USER', externalId: operator, timeZone: 'America/New_York' } });
    await addMember(ctx, { organisationExternalId: 'lumen', userExternalId: operator, role: 'OPERATOR' });
  }
  await subscribe(ctx, { accountId: lumen, idempotencyKey: 'demo-lumen-scale', actor: service, plan: 'scale', anchorAt: new Date(Date.now() - 12 * 86_400_000) });
  return { maria, acme, lumen };
}

type Sitting = 'morning' | 'afternoon' | 'evening';

/** Spends what the account can: on a free plan a user simply stops when credits run out. */
async function trySpend(ctx: CoreContext, input: Parameters<typeof spend>[1]): Promise<void> {
  await spend(ctx, input).catch((error: { code?: string }) => {
    if (error.code !== 'INSUFFICIENT_CREDITS') throw error;
  });
}

async function maria(ctx: CoreContext, accountId: string, day: number, sitting: Sitting): Promise<void> {
  if (day === 2 && sitting === 'evening') {
    const { code } = await createLinkCode(ctx, { userExternalId: 'maria', provider: 'DISCORD' });
    await claimLinkCode(ctx, { provider: 'DISCORD', externalId: '310000000000000001', code });
  }
  if (day === 11 && sitting === 'afternoon') {
    await purchase(ctx, { accountId, idempotencyKey: 'demo-maria-order-1', actor: service, amount: 50n, source: { kind: 'order', id: 'ORD-1042', label: 'Order #1042' } });
  }
  if (sitting === 'evening' && random() < 0.5) await rewardAdView(ctx, { query: adCallback('maria') });
  if (random() < 0.6) {
    const project = pick(['Birthday card', 'Travel blog', 'Logo ideas']);
    for (let turn = 0; turn < 1 + Math.floor(random() * 3); turn++) {
      await trySpend(ctx, { accountId, idempotencyKey: randomUUID(), actor: service, charge: { action: 'chat', quantity: 1 }, source: { kind: 'project', id: project, label: project } });
    }
    if (random() < 0.4) {
      await trySpend(ctx, { accountId, idempotencyKey: randomUUID(), actor: service, charge: { action: 'image', quantity: 1 }, source: { kind: 'project', id: project, label: project } });
    }
  }
}

async function acme(ctx: CoreContext, accountId: string, day: number, sitting: Sitting, inFlight: { accountId: string; depositId: string; clips: number[] }[]): Promise<void> {
  // Yesterday's creatives are delivered in the morning: the deposits are reconciled (one cancelled).
  if (sitting === 'morning') {
    for (const [i, deposit] of inFlight.splice(0).entries()) {
      if (day === 9 && i === 0) {
        await voidDeposit(ctx, { accountId, idempotencyKey: randomUUID(), actor: staff, depositId: deposit.depositId, reason: 'Creative rejected by the network before delivery' });
        continue;
      }
      const delivered = deposit.clips.map((seconds) => (random() < 0.3 ? Math.max(3, seconds - 3) : seconds));
      await reconcileDeposit(ctx, { accountId, idempotencyKey: randomUUID(), actor: service, depositId: deposit.depositId, actual: { deliveredSeconds: delivered } });
    }
  }
  if (sitting !== 'evening' && random() < 0.7) {
    const clips = Array.from({ length: 2 + Math.floor(random() * 5) }, () => pick([4, 6, 8, 10, 12, 15]));
    const creative = `CR-${1000 + day * 3 + (sitting === 'morning' ? 0 : 1)}`;
    const result = await spend(ctx, {
      accountId,
      idempotencyKey: randomUUID(),
      actor: { kind: 'USER', id: 'olga' },
      charge: { action: 'submission', clipSeconds: clips },
      source: { kind: 'creative', id: creative, label: `Creative ${creative}`, url: `https://app.example.com/creatives/${creative}` },
    }).catch((error: { code?: string }) => {
      if (error.code !== 'INSUFFICIENT_CREDITS') throw error;
      return null; // over the month's auto-reload limit: the submission waits
    });
    if (result?.depositId) inFlight.push({ accountId, depositId: result.depositId, clips });
  }
  if (day === 15 && sitting === 'afternoon') {
    await adjust(ctx, { accountId, idempotencyKey: 'demo-acme-adjust', actor: staff, amount: 20n, reason: 'Delivery miss on creative CR-1040: credit back as agreed' });
  }
  if (day === 22 && sitting === 'morning') {
    await purchase(ctx, { accountId, idempotencyKey: 'demo-acme-topup', actor: service, amount: 100n, description: 'Manual top up', source: { kind: 'invoice', id: 'INV-77' } });
  }
}

async function lumen(ctx: CoreContext, accountId: string, day: number, sitting: Sitting): Promise<void> {
  // Events on weekend-ish days: photos processed in batches by whichever operator is on site.
  if (day % 7 >= 5 && sitting !== 'morning') {
    const event = { kind: 'event', id: `event-${day}`, label: pick(['Smith wedding', 'Tech meetup', 'Gala dinner', 'Marathon finish line']) };
    const operator = pick(['ken', 'lia']);
    for (let batch = 0; batch < 3; batch++) {
      await trySpend(ctx, { accountId, idempotencyKey: randomUUID(), actor: { kind: 'USER', id: operator }, charge: { action: 'photo_processing', quantity: 5 + Math.floor(random() * 20) }, source: event });
    }
  }
}

await main();
