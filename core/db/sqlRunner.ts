/** The raw driver underneath Prisma: used where Prisma's client does not fit (migrations, bulk checks). */
export interface SqlRunner {
  /** Runs one or more statements with no parameters (simple query protocol). */
  exec(sql: string): Promise<void>;
  query<Row extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Runs `work` on one connection, so session state such as advisory locks holds throughout. */
  withSession<T>(work: (session: Omit<SqlRunner, 'withSession'>) => Promise<T>): Promise<T>;
}
