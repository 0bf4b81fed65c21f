import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';

/**
 * Starts the real services once per run (idempotent: a broker already up is reused) and gives the run a
 * fresh database, so tests never see another run's rows. Workers read the address from .state.json.
 */
export default async function globalSetup(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  execFileSync('bash', [path.join(root, 'scripts', 'services.sh'), 'up'], { stdio: 'inherit', env: process.env });
  const base = new URL(process.env.GOVX_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const dbName = `govx_test_${process.pid}_${Date.now().toString(36)}`;
  base.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  try {
    // Drop databases left behind by earlier runs that were interrupted (older than an hour).
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'govx_test_%'`,
    );
    for (const { datname } of rows) {
      const stamp = parseInt(datname.split('_').pop() ?? '', 36);
      if (Number.isFinite(stamp) && Date.now() - stamp > 3600_000) {
        await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => undefined);
      }
    }
    await admin.query(`CREATE DATABASE "${dbName}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(base.toString());
  url.pathname = `/${dbName}`;
  const state = { databaseUrl: url.toString(), kafkaBrokers: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092' };
  fs.writeFileSync(path.join(__dirname, '.state.json'), JSON.stringify(state));
}
