import { z } from 'zod';
import { errorCodes } from '../../core/errors.js';
import { maxBatchEvents, spendBatch, spendBatchInput } from '../../core/ledger/spendBatch.js';
import { UsageWrite } from '../responses.js';
import { fieldsOf, route, serviceWrites } from '../route.js';

const outcomeOf = { index: z.number().int(), idempotencyKey: z.string().nullable() };
const BatchOutcomes = z
  .strictObject({
    outcomes: z.array(
      z.union([
        z.strictObject({ ...outcomeOf, status: z.enum(['written', 'replayed']), result: UsageWrite }),
        z.strictObject({
          ...outcomeOf,
          status: z.literal('refused'),
          error: z.strictObject({ code: z.enum(errorCodes), message: z.string(), details: z.record(z.string(), z.unknown()) }),
        }),
      ]),
    ),
  })
  .meta({ description: 'One outcome per event, in the order sent' });

/** Many accounts' usage in one request: each event exactly once under its own key, each with its own outcome. */
export const batchRoutes = [
  route({
    method: 'post',
    path: '/v1/usage/batch',
    tag: 'Ledger',
    summary: `Charge up to ${maxBatchEvents.toLocaleString('en')} usage events across accounts; each carries accountId and idempotencyKey (the fields of POST …/usage) and gets its own outcome: written, replayed, or refused with a code`,
    scopes: serviceWrites,
    body: fieldsOf(spendBatchInput, ['actor', 'origin'] as const),
    response: BatchOutcomes,
    write: 'each',
    handle: (ctx, { body, principal, actor, origin }) => spendBatch(ctx, principal, { events: body.events, actor, origin }),
  }),
];
