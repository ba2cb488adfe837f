import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths };
/** The API's named shapes as they are on the wire: Schemas['Entry'], Schemas['Balance'], Schemas['Error']… */
export type Schemas = components['schemas'];
export type CreditkeeperClient = Client<paths>;

/**
 * A typed client for Creditkeeper's API (/v1), generated from its OpenAPI document: paths,
 * parameters, bodies and replies are checked by tsc. Writes take their Idempotency-Key as a header
 * parameter: `params: { header: { 'Idempotency-Key': key } }`.
 */
export function creditkeeperClient(options: { baseUrl: string; token?: string } & Omit<ClientOptions, 'baseUrl'>): CreditkeeperClient {
  const { token, headers, ...rest } = options;
  return createClient<paths>({ ...rest, headers: { ...(token && { authorization: `Bearer ${token}` }), ...(headers as Record<string, string> | undefined) } });
}
