import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CreditkeeperError } from '../errors.js';

/**
 * What each action of the host product costs: the documented prices, or a deployment's PRICE_LIST_FILE
 * validated by the same schema.
 */
const unitAction = z.strictObject({
  pricing: z.literal('per-unit'),
  category: z.string().min(1),
  description: z.string().min(1),
  /** Credits per unit; 0 records free usage (e.g. a free beta) with no cost. */
  unitPrice: z.number().int().min(0),
  unit: z.string().min(1),
});

/** A base charge plus a per-second deposit for each clip, clamped to a range. */
const showcaseAction = z.strictObject({
  pricing: z.literal('base-plus-clip-deposit'),
  category: z.string().min(1),
  description: z.string().min(1),
  base: z.number().int().min(0),
  perSecond: z.number().int().min(1),
  clipMinSeconds: z.number().int().min(0),
  clipMaxSeconds: z.number().int().min(1),
  maxClips: z.number().int().min(1),
});

export const priceListSchema = z.record(
  z.string().regex(/^[a-z0-9_]+$/),
  z.discriminatedUnion('pricing', [unitAction, showcaseAction]),
);
export type PriceList = z.infer<typeof priceListSchema>;

export const seedPriceList: PriceList = {
  chat: { pricing: 'per-unit', category: 'Chat', description: 'AI chat turn', unitPrice: 1, unit: 'turn' },
  image: { pricing: 'per-unit', category: 'Image generation', description: 'Image generation', unitPrice: 3, unit: 'image' },
  animation: {
    pricing: 'per-unit',
    category: 'Animation generation',
    description: 'Animation generation (free beta)',
    unitPrice: 0,
    unit: 'animation',
  },
  model_3d: {
    pricing: 'per-unit',
    category: '3D generation',
    description: '3D generation (free beta)',
    unitPrice: 0,
    unit: 'model',
  },
  persona_batch: {
    pricing: 'per-unit',
    category: 'Image generation',
    description: 'Persona image batch (9 images)',
    unitPrice: 27,
    unit: 'batch',
  },
  reroll: { pricing: 'per-unit', category: 'Image generation', description: 'Persona image re-roll', unitPrice: 2, unit: 're-roll' },
  photo_processing: {
    pricing: 'per-unit',
    category: 'Photo Processing',
    description: 'Photo processing',
    unitPrice: 1,
    unit: 'photo',
  },
  submission: {
    pricing: 'base-plus-clip-deposit',
    category: 'Submission',
    description: 'Creative submission',
    base: 40,
    perSecond: 1,
    clipMinSeconds: 4,
    clipMaxSeconds: 12,
    maxClips: 50,
  },
};

export function loadPriceList(file: string | undefined): PriceList {
  if (!file) return seedPriceList;
  const parsed = priceListSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`Price list ${file} is invalid: ${parsed.error.message}`);
  return parsed.data;
}

export const actionUse = z.union([
  z.strictObject({ action: z.string().min(1).max(50), quantity: z.number().int().min(1).max(1_000_000).default(1) }),
  z.strictObject({
    action: z.string().min(1).max(50),
    clipSeconds: z.array(z.number().min(0).max(86_400)).min(1).max(1000),
  }),
]);
export type ActionUse = z.infer<typeof actionUse>;

export interface Price {
  category: string;
  description: string;
  /** Units charged (images, turns, photos…; clips for a submission). */
  quantity: number;
  /** Everything charged now. */
  amount: bigint;
  /** The part of `amount` that is a deposit, reconciled after delivery (0 for plain usage). */
  held: bigint;
  action: string;
}

export function priceAction(priceList: PriceList, use: ActionUse): Price {
  const definition = Object.hasOwn(priceList, use.action) ? priceList[use.action] : undefined;
  if (!definition) {
    throw new CreditkeeperError('UNKNOWN_ACTION', `No price for action "${use.action}"`, {
      action: use.action,
      known: Object.keys(priceList),
    });
  }
  if (definition.pricing === 'per-unit') {
    if (!('quantity' in use)) throw invalidUse(use.action, 'takes a quantity');
    return {
      action: use.action,
      category: definition.category,
      description: definition.description,
      quantity: use.quantity,
      amount: BigInt(definition.unitPrice) * BigInt(use.quantity),
      held: 0n,
    };
  }
  if (!('clipSeconds' in use)) throw invalidUse(use.action, 'takes clipSeconds, one per clip');
  if (use.clipSeconds.length > definition.maxClips) throw invalidUse(use.action, `takes at most ${definition.maxClips} clips`);
  const depositSeconds = use.clipSeconds.reduce(
    (sum, seconds) => sum + Math.min(definition.clipMaxSeconds, Math.max(definition.clipMinSeconds, Math.ceil(seconds))),
    0,
  );
  const held = BigInt(depositSeconds * definition.perSecond);
  return {
    action: use.action,
    category: definition.category,
    description: `${definition.description} (${use.clipSeconds.length} clip showcase, ${depositSeconds} s deposit)`,
    quantity: use.clipSeconds.length,
    amount: BigInt(definition.base) + held,
    held,
  };
}

/** What delivered work actually cost, for reconciling a deposit taken by `action` (billed by the second). */
export function priceDelivery(priceList: PriceList, action: string, deliveredSeconds: number[]): bigint {
  const definition = Object.hasOwn(priceList, action) ? priceList[action] : undefined;
  if (!definition || definition.pricing !== 'base-plus-clip-deposit') {
    throw new CreditkeeperError('UNKNOWN_ACTION', `Action "${action}" does not bill delivered seconds`, { action });
  }
  return BigInt(deliveredSeconds.reduce((sum, s) => sum + Math.ceil(s), 0) * definition.perSecond);
}

function invalidUse(action: string, what: string): CreditkeeperError {
  return new CreditkeeperError('VALIDATION_FAILED', `Action "${action}" ${what}`, { action });
}
