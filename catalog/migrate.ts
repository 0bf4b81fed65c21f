import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Pool } from '../lib/db';
import type { Logger } from '../lib/logger';
import { projectPath } from '../lib/paths';

export const migrationsDir = projectPath('catalog', 'migrations');

/** Arbitrary but fixed: every govx process migrating the same database takes this advisory lock. */
const MIGRATION_LOCK_ID = 4_711_2026;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = migrationsDir): Migration[] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const seen = new Set<number>();
  return files.map((file) => {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new Error(`migration file "${file}" must be named NNNN_name.sql`);
    const version = Number(m[1]);
    if (seen.has(version)) throw new Error(`two migrations share the number ${m[1]}`);
    seen.add(version);
    const sql = fs.readFileSync(path.join(dir, file), 'utf8');
    return { version, name: m[2]!, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') };
  });
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Applies pending migrations in order, each in its own transaction, under a session advisory lock so that
 * concurrent starts never race. A migration that was applied and later edited is refused by checksum.
 */
export async function migrate(pool: Pool, log?: Logger, dir = migrationsDir): Promise<MigrationResult> {
  const migrations = readMigrations(dir);
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
    );
    const done = new Map(rows.map((r) => [r.version, r]));
    for (const row of rows) {
      const m = migrations.find((x) => x.version === row.version);
      if (!m) throw new Error(`database has migration ${row.version} (${row.name}) that this build does not know`);
      if (m.checksum !== row.checksum) {
        throw new Error(`migration ${row.version} (${row.name}) was changed after it was applied (checksum mismatch)`);
      }
    }
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(`${String(m.version).padStart(4, '0')}_${m.name}`);
      log?.info({ migration: m.version, migrationName: m.name }, 'applied migration');
    }
    return { applied, alreadyApplied: done.size };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    client.release();
  }
}
