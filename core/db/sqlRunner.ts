/** The raw driver underneath Prisma: the ledger's write path, migrations and bulk checks use it directly. */
export interface SqlSession {
  /** Runs one or more statements with no parameters (simple query protocol). */
  exec(sql: string): Promise<void>;
  /**
   * Runs one statement. `name` makes it a prepared statement on PostgreSQL (planned once per
   * connection); PGlite ignores it.
   */
  query<Row extends object>(sql: string, params?: unknown[], name?: string): Promise<Row[]>;
}

export interface SqlRunner extends SqlSession {
  /** Runs `work` on one connection, so session state such as advisory locks holds throughout. */
  withSession<T>(work: (session: SqlSession) => Promise<T>): Promise<T>;
  /** Runs `work` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(work: (tx: SqlSession) => Promise<T>): Promise<T>;
}
