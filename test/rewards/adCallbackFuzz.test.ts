import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCreditkeeperError } from '../../core/errors.js';
import { adVerifierKeys } from '../../core/rewards/adVerifierKeys.js';
import { rewardAdView } from '../../core/rewards/rewardAdView.js';
import { LoopbackApi } from '../support/loopbackApi.js';
import { balanceOf, newUserAccount, useFreshLedger } from '../support/scenario.js';
import { adKeyId, fakeAdNetwork } from './fakeAdNetwork.js';

/** Names an attacker would add or repeat, and values that would pay more or pay someone else. */
const names = ['transaction_id', 'user_id', 'signature', 'key_id', 'reward_amount', 'ad_unit', 'custom_data', 'user%5Fid', 'transaction%5fid', 'USER_ID', 'user_id '];
const values = ['tx-extra', 'otto', 'rina', adKeyId, '1000', '', 'otto%26user_id%3Dotto', 'otto&user_id=otto'];
const fragments = ['&', '=', '&&', '%26', '%3D', '+', ' ', '%20', '&signature=', `&key_id=${adKeyId}`, '&user_id=otto', '&transaction_id=tx-extra', '\u0000', '%00', '😀'];

/** One change to a callback's query; each applies to any string, so they compose. */
type Mutation =
  | { kind: 'append'; name: string; value: string }
  | { kind: 'insertParameter'; at: number; name: string; value: string }
  | { kind: 'duplicate'; from: number; at: number }
  | { kind: 'swap'; first: number; second: number }
  | { kind: 'setValue'; at: number; value: string }
  | { kind: 'replaceChar'; at: number; char: string }
  | { kind: 'insertText'; at: number; text: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'percentEncode'; at: number; lowerHex: boolean }
  | { kind: 'flipCase'; at: number };

const position = fc.nat({ max: 2_000 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('append'), name: fc.constantFrom(...names), value: fc.constantFrom(...values) }),
  fc.record({ kind: fc.constant('insertParameter'), at: position, name: fc.constantFrom(...names), value: fc.constantFrom(...values) }),
  fc.record({ kind: fc.constant('duplicate'), from: position, at: position }),
  fc.record({ kind: fc.constant('swap'), first: position, second: position }),
  fc.record({ kind: fc.constant('setValue'), at: position, value: fc.constantFrom(...values) }),
  fc.record({ kind: fc.constant('replaceChar'), at: position, char: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)) }),
  fc.record({ kind: fc.constant('insertText'), at: position, text: fc.constantFrom(...fragments) }),
  fc.record({ kind: fc.constant('delete'), at: position, length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('percentEncode'), at: position, lowerHex: fc.boolean() }),
  fc.record({ kind: fc.constant('flipCase'), at: position }),
);

function mutated(query: string, change: Mutation): string {
  const pairs = query.split('&');
  const pair = (n: number) => n % pairs.length;
  const char = (n: number) => n % Math.max(query.length, 1);
  switch (change.kind) {
    case 'append':
      return `${query}&${change.name}=${change.value}`;
    case 'insertParameter':
      return pairs.toSpliced(pair(change.at), 0, `${change.name}=${change.value}`).join('&');
    case 'duplicate':
      return pairs.toSpliced(pair(change.at), 0, pairs[pair(change.from)]!).join('&');
    case 'swap': {
      const swapped = [...pairs];
      [swapped[pair(change.first)], swapped[pair(change.second)]] = [swapped[pair(change.second)]!, swapped[pair(change.first)]!];
      return swapped.join('&');
    }
    case 'setValue': {
      const [name] = pairs[pair(change.at)]!.split('=');
      return pairs.toSpliced(pair(change.at), 1, `${name}=${change.value}`).join('&');
    }
    case 'replaceChar':
      return query.slice(0, char(change.at)) + change.char + query.slice(char(change.at) + 1);
    case 'insertText':
      return query.slice(0, char(change.at)) + change.text + query.slice(char(change.at));
    case 'delete':
      return query.slice(0, char(change.at)) + query.slice(char(change.at) + change.length);
    case 'percentEncode': {
      const hex = query.charCodeAt(char(change.at)).toString(16).padStart(2, '0');
      return `${query.slice(0, char(change.at))}%${change.lowerHex ? hex : hex.toUpperCase()}${query.slice(char(change.at) + 1)}`;
    }
    case 'flipCase': {
      const c = query.charAt(char(change.at));
      return query.slice(0, char(change.at)) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + query.slice(char(change.at) + 1);
    }
  }
}

describe('ad callbacks under mutation (fast-check)', () => {
  const ctx = useFreshLedger('pglite');
  const network = fakeAdNetwork();
  // The network's published keys, on a loopback server of its own.
  let keysHost: LoopbackApi;

  beforeAll(async () => {
    // A cap no mutation reaches: a second payment must show as one, not hide behind the cap.
    ctx.rewards = { ad: 2n, adDailyCap: 10_000 };
    keysHost = await LoopbackApi.start();
    keysHost.route('GET', '/verifier-keys.json', () => [200, network.keysDocument]);
    ctx.adKeys = adVerifierKeys(`${keysHost.url}/verifier-keys.json`);
  });
  afterAll(() => keysHost.close());

  it('no change to a genuine callback pays anything: each is refused or replays the original, which paid once', async () => {
    const mara = await newUserAccount(ctx, 'mara');
    const otto = await newUserAccount(ctx, 'otto');
    const rina = await newUserAccount(ctx, 'rina');
    const genuine = network.callback('mara', { custom_data: 'level=3' });
    const paid = await rewardAdView(ctx, { query: genuine });
    expect(paid).toMatchObject({ replayed: false, balance: 2n });
    const original = paid.entries[0]!.id;

    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (changes) => {
        const query = changes.reduce(mutated, genuine);
        const outcome = await rewardAdView(ctx, { query }).catch((error: unknown) => error);
        if (isCreditkeeperError(outcome)) {
          expect(['AD_CALLBACK_INVALID', 'VALIDATION_FAILED'], query).toContain(outcome.code);
        } else {
          // Only a query that still is the genuine callback gets this far.
          expect(outcome, query).toMatchObject({ replayed: true, entries: [{ id: original }] });
        }
      }),
      { numRuns: 1_500 },
    );

    expect((await rewardAdView(ctx, { query: genuine })).replayed).toBe(true);
    expect([await balanceOf(ctx, mara), await balanceOf(ctx, otto), await balanceOf(ctx, rina)]).toEqual([2n, 0n, 0n]);
    const [rewards] = await ctx.db.sql.query<{ count: number }>("SELECT count(*)::int AS count FROM entries WHERE type = 'AD_REWARD'");
    expect(rewards!.count).toBe(1);
  });
});
