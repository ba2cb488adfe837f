import type { z } from 'zod';
import type { openAccountInput } from '../accounts/openAccount.js';
import type { CoreContext } from '../context.js';
import { CreditkeeperError } from '../errors.js';
import { ensureOrganisationInReach, type Reach } from './accountReach.js';

/**
 * Whether a credential may open (or find) this owner's account; an organisation-limited one never reaches a
 * user's own account, which is outside every organisation (accountReach.ts).
 */
export async function ensureOwnerInReach(ctx: CoreContext, reach: Reach, owner: z.infer<typeof openAccountInput>['owner']): Promise<void> {
  if (!reach.organisationId) return;
  if (owner.kind === 'USER') throw new CreditkeeperError('FORBIDDEN', 'This token may only open its organisation’s accounts');
  await ensureOrganisationInReach(ctx, reach, owner.kind === 'CLIENT' ? owner.organisationExternalId : owner.externalId);
}
