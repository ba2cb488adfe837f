/**
 * Every failure Creditkeeper reports has a stable code. Transports map codes to words
 * (bot) and HTTP statuses (admin) in one table each; core never formats for a user.
 */
export const errorCodes = [
  'VALIDATION_FAILED',
  'AMOUNT_OUT_OF_RANGE',
  'REASON_REQUIRED',
  'ACCOUNT_NOT_FOUND',
  'ENTRY_NOT_FOUND',
  'DEPOSIT_NOT_FOUND',
  'CHARGE_NOT_FOUND',
  'OWNER_NOT_FOUND',
  'UNKNOWN_ACTION',
  'INSUFFICIENT_CREDITS',
  'BALANCE_LIMIT_EXCEEDED',
  'IDEMPOTENCY_CONFLICT',
  'NOT_REFUNDABLE',
  'REFUND_EXCEEDS_CHARGE',
  'NOT_REVERSIBLE',
  'ALREADY_REVERSED',
  'ALREADY_VOIDED',
  'NOTHING_TO_VOID',
  'NOT_VOIDABLE',
  'SCHEDULE_NOT_FOUND',
  'ALREADY_CANCELLED',
  'ALREADY_LANDED',
  'DEPOSIT_ALREADY_SETTLED',
  'CHARGE_ALREADY_SETTLED',
  'DATABASE_LOCKED',
  'DATABASE_UNAVAILABLE',
  'STORAGE_FULL',
  'MIGRATION_FAILED',
  'MIGRATION_CHECKSUM_MISMATCH',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'ROLE_FORBIDDEN',
  'TOKEN_NOT_FOUND',
  'IDEMPOTENCY_KEY_REQUIRED',
  'NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'NOT_LINKED',
  'LINK_CODE_INVALID',
  'PORTAL_LINK_INVALID',
  'IDENTITY_LINKED_ELSEWHERE',
  'PLAN_NOT_FOUND',
  'SUBSCRIPTION_NOT_FOUND',
  'AD_CALLBACK_INVALID',
  'AD_REWARD_DAILY_CAP',
  'AD_KEYS_UNAVAILABLE',
  'PAYMENT_FAILED',
  'WEBHOOK_URL_REFUSED',
  'WEBHOOK_ENDPOINT_NOT_FOUND',
  'WEBHOOK_DELIVERY_NOT_FOUND',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export class CreditkeeperError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'CreditkeeperError';
    this.code = code;
    this.details = details;
  }
}

export function isCreditkeeperError(error: unknown, code?: ErrorCode): error is CreditkeeperError {
  return error instanceof CreditkeeperError && (code === undefined || error.code === code);
}
