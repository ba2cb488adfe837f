import { z } from 'zod';
import type { IdentityProvider } from '../db/generated/enums.js';

/** A chat identity: the provider and the provider's own id for the person (a Discord snowflake, a Slack user id). */
export const chatIdentity = {
  provider: z.enum(['DISCORD', 'SLACK']),
  externalId: z.string().trim().min(1).max(100),
};

export type ChatIdentity = { provider: IdentityProvider; externalId: string };
