import { type Caller, callerId } from '../command.js';

/** What every staff command's ledger write carries: the interaction as its key, the staff member, where from. */
export function staffWrite(caller: Caller) {
  return {
    idempotencyKey: caller.interactionId,
    actor: { kind: 'STAFF', id: callerId(caller) } as const,
    origin: { transport: caller.transport, requestId: caller.interactionId },
  };
}
