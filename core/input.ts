import { z } from 'zod';
import { CreditkeeperError } from './errors.js';

/**
 * Shared zod pieces for every core use-case's input: core validates for itself, so a
 * transport that forgets a check still cannot write a bad entry.
 */

/** The most credits one operation may move: far beyond any real use, far inside bigint. */
export const maxCredits = 1_000_000_000_000_000n;
const outOfRange = 'AMOUNT_OUT_OF_RANGE';

const integerLike = z.union([
  z.bigint(),
  // Any whole number, even past 2^53 (JSON's 1e16): the range check then says it is out of range.
  z
    .number()
    .refine(Number.isInteger, 'must be a whole number of credits')
    .transform((n) => BigInt(n)),
  z
    .string()
    .trim()
    .regex(/^-?\d{1,30}$/, 'must be a whole number of credits')
    .transform((s) => BigInt(s)),
]);

function bounded(min: bigint) {
  return integerLike.superRefine((value, ctx) => {
    if (value < min || value > maxCredits || value < -maxCredits) {
      ctx.addIssue({
        code: 'custom',
        message: `must be between ${min} and ${maxCredits}`,
        params: { code: outOfRange },
      });
    }
  });
}

/** A positive number of credits: 1 … maxCredits. */
export const positiveCredits = bounded(1n);
/** A non-negative number of credits: 0 … maxCredits (actual use after delivery may be 0). */
export const nonNegativeCredits = bounded(0n);
/** A signed, non-zero number of credits (staff adjustments). */
export const signedCredits = integerLike.superRefine((value, ctx) => {
  if (value === 0n || value > maxCredits || value < -maxCredits) {
    ctx.addIssue({ code: 'custom', message: `must be non-zero and within ±${maxCredits}`, params: { code: outOfRange } });
  }
});

/** Client-chosen; '#' is reserved for the keys Creditkeeper derives from it. */
export const idempotencyKey = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._:\-/]+$/, 'may contain letters, digits and . _ : - / only');

export const uuid = z.uuid({ message: 'must be an id' });

export const actor = z.strictObject({
  kind: z.enum(['USER', 'STAFF', 'SYSTEM', 'SERVICE']),
  id: z.string().min(1).max(200).optional(),
});
export type Actor = z.infer<typeof actor>;

/** What caused an entry: a model, project, event, creative, order… with a link where one exists. */
export const source = z.strictObject({
  kind: z.string().min(1).max(50).optional(),
  id: z.string().min(1).max(200).optional(),
  label: z.string().min(1).max(200).optional(),
  // Staff and users open it: a web page only, never javascript:, data: or the like.
  url: z.url({ protocol: /^https?$/, message: 'must be an http or https URL' }).max(2000).optional(),
});
export type Source = z.infer<typeof source>;

/** Staff actions must say why; the reason becomes the entry's note and the audit trail. */
export const reason = z.string().trim().max(500).pipe(z.string().min(1, 'a reason is required'));

export const note = z.string().trim().min(1).max(500);

/** Staff must say why they moved credits, whatever the operation. */
export function staffGivesReason(request: { actor: Actor; reason?: string | undefined }): boolean {
  return request.actor.kind !== 'STAFF' || request.reason !== undefined;
}
export const reasonRequired = { message: 'a reason is required', path: ['reason'] };

/**
 * Parses with zod into a typed error with a stable code, and refuses what PostgreSQL cannot store (NUL, lone
 * surrogates, dates outside 1970–9999, integers beyond bigint) for every use-case at once.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const badText = findValue(input, (value) => (typeof value === 'string' ? unstorableText(value) : undefined));
  if (badText) throw unstorable(badText, 'text may not contain');
  const result = schema.safeParse(input);
  if (result.success) {
    const outOfRange = findValue(result.data, (value) => (value instanceof Date || typeof value === 'bigint' ? outsideStorableRange(value) : undefined));
    if (outOfRange) throw unstorable(outOfRange, 'must be');
    return result.data;
  }
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.join('.'),
    message: issue.code === 'too_big' && issue.origin === 'string' ? `may be at most ${issue.maximum} characters` : issue.message,
  }));
  const code = result.error.issues.some((i) => i.code === 'custom' && i.params?.code === outOfRange)
    ? 'AMOUNT_OUT_OF_RANGE'
    : // A reason that is missing or blank; one that is too long is just invalid.
      result.error.issues.some((i) => i.path.at(-1) === 'reason' && i.code !== 'too_big')
      ? 'REASON_REQUIRED'
      : 'VALIDATION_FAILED';
  const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  throw new CreditkeeperError(code, summary, { issues });
}

/** Where a request came from, for the audit log; never part of what makes two requests the same. */
export const origin = z.strictObject({
  transport: z.enum(['http', 'admin-page', 'discord', 'slack', 'console', 'cli', 'cron']),
  requestId: z.string().max(200).optional(),
  ip: z.string().max(100).optional(),
  userAgent: z.string().max(500).optional(),
});
export type Origin = z.infer<typeof origin>;

/** Fields every ledger write takes. */
export const ledgerWriteBase = {
  accountId: uuid,
  idempotencyKey,
  actor,
  origin: origin.optional(),
};

/** A moment, as a Date or anything `new Date` reads. */
export const date = z.coerce.date({ message: 'must be a date' });

/** A moment that must still be ahead when the write happens (checked again against the database clock). */
export const futureDate = date;

/** An IANA time zone name the runtime knows (users see times in their own zone). */
export const timeZone = z
  .string()
  .refine((zone) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  }, 'is not a known time zone');

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const earliestDate = Date.UTC(1970, 0, 1);
const latestDate = Date.UTC(10000, 0, 1) - 1;
const bigintRange = { min: -(2n ** 63n), max: 2n ** 63n - 1n };

function unstorableText(text: string): string | undefined {
  if (text.includes('\u0000')) return 'a NUL character';
  if (loneSurrogate.test(text)) return 'a lone UTF-16 surrogate';
  return undefined;
}

function outsideStorableRange(value: Date | bigint): string | undefined {
  if (value instanceof Date) {
    const at = value.getTime();
    return at < earliestDate || at > latestDate ? 'a date in the years 1970–9999' : undefined;
  }
  return value < bigintRange.min || value > bigintRange.max ? `between ${bigintRange.min} and ${bigintRange.max}` : undefined;
}

/** The first value (or object key) `problem` finds something wrong with, and where it is. */
function findValue(value: unknown, problem: (value: unknown) => string | undefined, path: string[] = []): { path: string; problem: string } | undefined {
  const found = problem(value);
  if (found) return { path: path.join('.'), problem: found };
  if (path.length > 20 || value === null || typeof value !== 'object' || value instanceof Date) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const inKey = problem(key);
    if (inKey) return { path: [...path, key].join('.'), problem: inKey };
    const inItem = findValue(item, problem, [...path, key]);
    if (inItem) return inItem;
  }
  return undefined;
}

function unstorable(found: { path: string; problem: string }, verb: string): CreditkeeperError {
  const message = `${verb} ${found.problem}`;
  return new CreditkeeperError('VALIDATION_FAILED', found.path ? `${found.path}: ${message}` : message, { issues: [{ path: found.path, message }] });
}
