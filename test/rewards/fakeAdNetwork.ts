import { generateKeyPairSync, sign } from 'node:crypto';

/** The key id AdMob would name; the fake network publishes one key under it. */
export const adKeyId = '3335741209';

/**
 * An ad network that signs callbacks as AdMob does: its fields in order, then
 * `&signature=<web-safe base64 DER ECDSA P-256/SHA-256 of everything before it>&key_id=<id>`.
 */
export function fakeAdNetwork() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let transaction = 0;
  /** `signedPart` (exactly these bytes, whatever they say) followed by its signature and the key id. */
  const signed = (signedPart: string) =>
    `${signedPart}&signature=${sign('sha256', Buffer.from(signedPart), { key: privateKey, dsaEncoding: 'der' }).toString('base64url')}&key_id=${adKeyId}`;
  return {
    /** The document at the network's verifier-keys URL. */
    keysDocument: { keys: [{ keyId: Number(adKeyId), pem: publicKey.export({ type: 'spki', format: 'pem' }), base64: 'unused' }] },
    signed,
    /** A genuine callback for one view by `userId`, with a transaction id of its own. */
    callback: (userId: string, overrides: Record<string, string> = {}) =>
      signed(
        new URLSearchParams({
          ad_network: '5450213213286189855',
          ad_unit: '1234567890',
          reward_amount: '1',
          reward_item: 'Reward',
          timestamp: String(Date.now() * 1000),
          transaction_id: `tx${++transaction}`,
          user_id: userId,
          ...overrides,
        }).toString(),
      ),
  };
}
