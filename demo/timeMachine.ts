import type { Database } from '../core/db/database.js';

/**
 * Moves the whole database's history `minutes` into the past, every timestamp by the same amount,
 * so the demo can write a month day by day through the real use-cases (which stamp everything
 * with the database clock) and end with that month behind it. Append-only tables are opened for
 * the move and closed again; every invariant still holds afterwards (the demo verifies it). Only
 * the demo does this, on a database it has just created.
 */
export async function moveHistoryBack(db: Database, minutes: number): Promise<void> {
  if (minutes % 15 !== 0) throw new Error('usage rollups are quarter hours: move history by whole quarter hours');
  const by = `${minutes} minutes`;
  await db.sql.transaction(async (tx) => {
    for (const table of appendOnly) await tx.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
    for (const [table, columns] of Object.entries(timestamps)) {
      await tx.query(`UPDATE ${table} SET ${columns.map((c) => `${c} = ${c} - $1::interval`).join(', ')}`, [by]);
    }
    // Rollups are keyed by their quarter hour: moved by taking them out and putting them back.
    await tx.query('CREATE TEMPORARY TABLE moved_rollups ON COMMIT DROP AS SELECT * FROM usage_rollups');
    await tx.query('DELETE FROM usage_rollups');
    await tx.query(
      `INSERT INTO usage_rollups (account_id, period_start, used, added, usage_count)
       SELECT account_id, period_start - $1::interval, used, added, usage_count FROM moved_rollups`,
      [by],
    );
    for (const table of appendOnly) await tx.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
  });
}

const appendOnly = ['entries', 'audit_log', 'link_rewards'];

const timestamps: Record<string, string[]> = {
  users: ['created_at'],
  organisations: ['created_at'],
  clients: ['created_at'],
  members: ['created_at'],
  accounts: ['created_at'],
  buckets: ['created_at', 'expires_at'],
  entries: ['created_at', 'occurred_at'],
  deposits: ['created_at', 'settled_at'],
  audit_log: ['created_at'],
  subscriptions: ['anchor_at', 'period_start', 'period_end', 'cancelled_at', 'created_at', 'updated_at'],
  linked_identities: ['linked_at', 'unlinked_at'],
  link_codes: ['created_at', 'expires_at', 'used_at'],
  link_rewards: ['created_at'],
  auto_reload_settings: ['updated_at'],
};
