import { verify } from 'node:crypto';
import { z } from 'zod';
import { CreditkeeperError } from '../errors.js';
import type { AdVerifierKeys } from './adVerifierKeys.js';

/** The fields Creditkeeper acts on, read only from the signed part of the query. */
const signedFields = z.object({
  transaction_id: z.string().min(1).max(200).regex(/^[A-Za-z0-9._:\-]+$/),
  user_id: z.string().trim().min(1).max(200),
  ad_unit: z.string().max(200).optional(),
  ad_network: z.string().max(200).optional(),
});

export type SignedAdCallback = z.infer<typeof signedFields>;

/**
 * What follows the signed part, and all that may: the signature (web-safe base64 without padding,
 * as AdMob sends it) and the key id, in that order. Nothing after them is covered by the signature.
 */
const signatureAndKeyId = /^signature=([A-Za-z0-9_-]{1,1000})&key_id=([A-Za-z0-9._-]{1,50})$/;

/** The parameters AdMob puts after the signed part: inside it they would be a second copy. */
const unsignedNames = new Set(['signature', 'key_id']);

/**
 * AdMob's check: ECDSA over the query up to `&signature=`, which must end `&signature=S&key_id=K`; anything
 * after it, a repeated or unsigned parameter is refused, so no field comes from unsigned bytes.
 */
export async function verifyAdCallback(keys: AdVerifierKeys, query: string): Promise<SignedAdCallback> {
  const cut = query.indexOf('&signature=');
  if (cut < 0) throw invalid('the callback has no signature');
  const signedPart = query.slice(0, cut);
  const tail = signatureAndKeyId.exec(query.slice(cut + 1));
  if (!tail) throw invalid('the callback must end with &signature=…&key_id=…, and nothing after them');
  const signature = tail[1]!;
  const keyId = tail[2]!;
  const signatureBytes = Buffer.from(signature, 'base64url');
  // Node's decoder ignores stray trailing bits: only the one canonical spelling of the bytes is accepted.
  if (signatureBytes.toString('base64url') !== signature) throw invalid('the signature is not web-safe base64');
  const parameters = signedParameters(signedPart);

  const key = await keys.key(keyId);
  if (!key) throw invalid(`no published key ${keyId}`);
  if (!verify('sha256', Buffer.from(signedPart), { key, dsaEncoding: 'der' }, signatureBytes)) throw invalid('the signature does not verify');

  const fields = signedFields.safeParse(Object.fromEntries(parameters));
  if (!fields.success) throw invalid('the signed part is missing transaction_id or user_id, or one of them is malformed');
  return fields.data;
}

/** The signed part's `name=value` pairs, decoded as a form is; each name once. */
function signedParameters(signedPart: string): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const pair of signedPart.split('&')) {
    const equals = pair.indexOf('=');
    if (equals < 1) throw invalid(`"${pair.slice(0, 40)}" is not a name=value parameter`);
    const name = formDecoded(pair.slice(0, equals));
    if (unsignedNames.has(name) || parameters.has(name)) throw invalid(`${name.slice(0, 40)} appears twice`);
    parameters.set(name, formDecoded(pair.slice(equals + 1)));
  }
  return parameters;
}

function formDecoded(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    throw invalid(`"${text.slice(0, 40)}" is not percent-encoded UTF-8`);
  }
}

function invalid(why: string): CreditkeeperError {
  return new CreditkeeperError('AD_CALLBACK_INVALID', `Ad callback refused: ${why}`);
}
