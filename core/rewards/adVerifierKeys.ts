import { createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { CreditkeeperError } from '../errors.js';

/**
 * The ad network's signing keys, kept a day and refetched early for an unseen key id (a rotation), but at most
 * once a minute so forged key ids cannot make Creditkeeper hammer the network.
 */
export interface AdVerifierKeys {
  key(keyId: string): Promise<KeyObject | undefined>;
}

const keysDocument = z.object({
  keys: z.array(z.object({ keyId: z.union([z.number(), z.string()]).transform(String), pem: z.string().min(1) })),
});

const keepFor = 24 * 3_600_000;
const refetchAfter = 60_000;

export function adVerifierKeys(url: string, options: { timeoutMs?: number } = {}): AdVerifierKeys {
  let keys = new Map<string, KeyObject>();
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let fetching: Promise<void> | null = null;
  const refresh = () =>
    (fetching ??= (async () => {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 5_000) });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const document = keysDocument.parse(await response.json());
        keys = new Map(document.keys.map((k) => [k.keyId, createPublicKey(k.pem)]));
        fetchedAt = Date.now();
      } catch (error) {
        // Not the callback's fault: the network retries it later, when the keys can be read.
        throw new CreditkeeperError('AD_KEYS_UNAVAILABLE', `The ad network's keys could not be read from ${url}: ${(error as Error).message}`);
      } finally {
        fetching = null;
      }
    })());
  return {
    async key(keyId) {
      const age = Date.now() - fetchedAt;
      if (age > keepFor || (!keys.has(keyId) && age > refetchAfter)) await refresh();
      return keys.get(keyId);
    },
  };
}
