import { defineConfig } from 'prisma/config';

// The URL is read only by Prisma CLI commands that talk to a database (migrate status/deploy
// where the native engine exists); the application connects through driver adapters (core/db).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://root@127.0.0.1:5432/test' },
});
