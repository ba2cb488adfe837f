import type { z } from 'zod';
import type { openAccountInput } from '../accounts/openAccount.js';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { ensureOrganisationInReach, type Reach } from './accountReach.js';

/**
 * Whether a credential may open (or find) this owner's account. An organisation-limited one opens
 * only its own organisation's account and its clients', never a user's: a user's own account is
 * outside every organisation (see accountReach.ts).
 */
export async function ensureOwnerInReach(ctx: CoreContext, reach: Reach, owner: z.infer<typeof openAccountInput>['owner']): Promise<void> {
  if (!reach.organisationId) return;
  if (owner.kind === 'USER') throw new CreditkeeperError('FORBIDDEN', 'This token may only open its organisation’s accounts');
  await ensureOrganisationInReach(ctx, reach, owner.kind === 'CLIENT' ? owner.organisationExternalId : owner.externalId);
}
