import { z } from 'zod';
import type { AutoReloadChargeStatus } from '../db/generated/enums.js';
import type { SqlSession } from '../db/sqlRunner.js';

/**
 * An auto-reload top-up's card charge, as its reservation records it. `chargeKey` is the stable
 * id the host gets as its Idempotency-Key, and the key its purchase lands under on the account.
 */
export interface AutoReloadCharge {
  accountId: string;
  chargeKey: string;
  credits: bigint;
  status: AutoReloadChargeStatus;
  /** Times the host was asked to charge under the key. */
  attempts: number;
  lastError: string | null;
  /** The host's charge, once confirmed. */
  chargeId: string | null;
  reservedAt: Date;
  lastAttemptAt: Date | null;
  settledAt: Date | null;
}

/** Outside the spend's own `<key>#…` keys: a replay of the spend answers with the spend alone. */
export function autoReloadChargeKey(spendKey: string): string {
  return `auto-reload#${spendKey}`;
}

export const chargeKey = z
  .string()
  .regex(/^auto-reload#[A-Za-z0-9._:\-/]{1,200}$/, 'must be auto-reload#<the spend’s idempotency key>');

/** A charge's columns, from `auto_reload_reservations r`. */
export const chargeColumns = `r.account_id, r.idempotency_key, r.credits::text AS credits, r.status, r.attempts, r.last_error, r.charge_id,
  r.reserved_at, r.last_attempt_at, r.settled_at`;

export interface ChargeRow {
  account_id: string;
  idempotency_key: string;
  credits: string;
  status: AutoReloadChargeStatus;
  attempts: number;
  last_error: string | null;
  charge_id: string | null;
  reserved_at: Date;
  last_attempt_at: Date | null;
  settled_at: Date | null;
}

export function toCharge(row: ChargeRow): AutoReloadCharge {
  return {
    accountId: row.account_id,
    chargeKey: row.idempotency_key,
    credits: BigInt(row.credits),
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    chargeId: row.charge_id,
    reservedAt: new Date(row.reserved_at),
    lastAttemptAt: row.last_attempt_at ? new Date(row.last_attempt_at) : null,
    settledAt: row.settled_at ? new Date(row.settled_at) : null,
  };
}

/**
 * The account's charges whose outcome is not known yet (being asked, or the answer was lost):
 * they count towards the month, and their credits land only once the host confirms them.
 */
export async function listUnsettledCharges(session: SqlSession, accountId: string): Promise<AutoReloadCharge[]> {
  const rows = await session.query<ChargeRow>(
    `SELECT ${chargeColumns} FROM auto_reload_reservations r
     WHERE r.account_id = $1::uuid AND r.status IN ('PENDING', 'UNKNOWN') ORDER BY r.reserved_at, r.idempotency_key`,
    [accountId],
  );
  return rows.map(toCharge);
}
