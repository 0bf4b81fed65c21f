import type { Pool, PoolClient } from '../../lib/db';
import { withTransaction } from '../../lib/db';
import { canonicalSchemaString, fingerprintOf, parseAvroSchema } from './canonical';
import { checkCompatibility, type CompatibilityLevel, type Incompatibility } from './compatibility';

/**
 * The schema registry's storage: a schema is stored once by canonical form and gets one global id; a
 * subject is an ordered list of versions pointing at ids. Registration is serialized per subject.
 */

export interface SubjectVersion {
  subject: string;
  version: number;
  id: number;
  schema: string;
  schemaType: 'AVRO';
}

export class IncompatibleSchemaError extends Error {
  constructor(
    readonly level: CompatibilityLevel,
    readonly messages: string[],
    readonly incompatibilities: Incompatibility[],
  ) {
    super(`schema is incompatible with the subject under ${level}: ${messages.join('; ')}`);
    this.name = 'IncompatibleSchemaError';
  }
}

type Db = Pool | PoolClient;

export async function getCompatibility(db: Db, subject: string | null): Promise<CompatibilityLevel | null> {
  const { rows } = await db.query<{ compatibility: CompatibilityLevel }>(
    'SELECT compatibility FROM registry_config WHERE subject = $1',
    [subject ?? ''],
  );
  return rows[0]?.compatibility ?? null;
}

export async function effectiveCompatibility(db: Db, subject: string): Promise<CompatibilityLevel> {
  return (await getCompatibility(db, subject)) ?? (await getCompatibility(db, null)) ?? 'BACKWARD';
}

export async function setCompatibility(db: Db, subject: string | null, level: CompatibilityLevel): Promise<void> {
  await db.query(
    `INSERT INTO registry_config (subject, compatibility) VALUES ($1, $2)
     ON CONFLICT (subject) DO UPDATE SET compatibility = EXCLUDED.compatibility`,
    [subject ?? '', level],
  );
}

export async function deleteCompatibility(db: Db, subject: string): Promise<boolean> {
  const r = await db.query('DELETE FROM registry_config WHERE subject = $1', [subject]);
  return (r.rowCount ?? 0) > 0;
}

export async function getSchemaById(db: Db, id: number): Promise<{ id: number; schema: string } | null> {
  const { rows } = await db.query<{ id: number; schema: string }>('SELECT id, schema FROM registry_schemas WHERE id = $1', [id]);
  return rows[0] ?? null;
}

export async function listSubjects(db: Db, includeDeleted = false): Promise<string[]> {
  const { rows } = await db.query<{ subject: string }>(
    `SELECT DISTINCT subject FROM registry_subject_versions WHERE $1 OR NOT deleted ORDER BY subject`,
    [includeDeleted],
  );
  return rows.map((r) => r.subject);
}

export async function listVersions(db: Db, subject: string, includeDeleted = false): Promise<number[]> {
  const { rows } = await db.query<{ version: number }>(
    'SELECT version FROM registry_subject_versions WHERE subject = $1 AND ($2 OR NOT deleted) ORDER BY version',
    [subject, includeDeleted],
  );
  return rows.map((r) => r.version);
}

/** Every version of a subject with its soft-deleted flag, oldest first; empty when the subject never existed. */
export async function versionStates(db: Db, subject: string): Promise<Array<{ version: number; deleted: boolean }>> {
  const { rows } = await db.query<{ version: number; deleted: boolean }>(
    'SELECT version, deleted FROM registry_subject_versions WHERE subject = $1 ORDER BY version',
    [subject],
  );
  return rows;
}

const VERSION_COLUMNS = `v.subject, v.version, v.schema_id AS id, s.schema, 'AVRO' AS "schemaType"`;

/** `version` is a number or 'latest'; soft-deleted versions are found only with includeDeleted. */
export async function getSubjectVersion(
  db: Db,
  subject: string,
  version: number | 'latest',
  includeDeleted = false,
): Promise<SubjectVersion | null> {
  const { rows } = await db.query<SubjectVersion>(
    version === 'latest'
      ? `SELECT ${VERSION_COLUMNS} FROM registry_subject_versions v JOIN registry_schemas s ON s.id = v.schema_id
         WHERE v.subject = $1 AND NOT v.deleted ORDER BY v.version DESC LIMIT 1`
      : `SELECT ${VERSION_COLUMNS} FROM registry_subject_versions v JOIN registry_schemas s ON s.id = v.schema_id
         WHERE v.subject = $1 AND v.version = $2 AND ($3 OR NOT v.deleted)`,
    version === 'latest' ? [subject] : [subject, version, includeDeleted],
  );
  return rows[0] ?? null;
}

/** Finds the version of `subject` whose schema is identical (by canonical form) to `schemaText`. */
export async function lookupSchema(db: Db, subject: string, schemaText: string): Promise<SubjectVersion | null> {
  const fingerprint = fingerprintOf(parseAvroSchema(schemaText).schema);
  const { rows } = await db.query<SubjectVersion>(
    `SELECT ${VERSION_COLUMNS} FROM registry_subject_versions v JOIN registry_schemas s ON s.id = v.schema_id
     WHERE v.subject = $1 AND s.fingerprint = $2 AND NOT v.deleted ORDER BY v.version DESC LIMIT 1`,
    [subject, fingerprint],
  );
  return rows[0] ?? null;
}

export async function subjectsOfSchema(db: Db, id: number): Promise<Array<{ subject: string; version: number }>> {
  const { rows } = await db.query<{ subject: string; version: number }>(
    'SELECT subject, version FROM registry_subject_versions WHERE schema_id = $1 AND NOT deleted ORDER BY subject, version',
    [id],
  );
  return rows;
}

/** Schemas of a subject's live versions, oldest first, parsed. */
async function liveSchemas(db: Db, subject: string): Promise<unknown[]> {
  const { rows } = await db.query<{ schema: string }>(
    `SELECT s.schema FROM registry_subject_versions v JOIN registry_schemas s ON s.id = v.schema_id
     WHERE v.subject = $1 AND NOT v.deleted ORDER BY v.version`,
    [subject],
  );
  return rows.map((r) => parseAvroSchema(r.schema).schema);
}

export interface CompatibilityVerdict {
  compatible: boolean;
  level: CompatibilityLevel;
  messages: string[];
  incompatibilities: Incompatibility[];
}

export async function testCompatibility(
  db: Db,
  subject: string,
  schemaText: string,
  against: number | 'latest' | 'all' = 'all',
): Promise<CompatibilityVerdict> {
  const candidate = parseAvroSchema(schemaText).schema;
  const level = await effectiveCompatibility(db, subject);
  let existing: unknown[];
  if (against === 'all') existing = await liveSchemas(db, subject);
  else {
    const v = await getSubjectVersion(db, subject, against);
    existing = v ? [parseAvroSchema(v.schema).schema] : [];
  }
  const verdict = checkCompatibility(level, candidate as never, existing as never[]);
  return { level, ...verdict };
}

export interface Registration {
  id: number;
  version: number;
  created: boolean;
}

/**
 * Registers `schemaText` under `subject`: an identical schema already there returns its version; otherwise
 * the subject's compatibility level is enforced against its live versions and a new version is added.
 */
export async function registerSchema(pool: Pool, subject: string, schemaText: string): Promise<Registration> {
  const parsed = parseAvroSchema(schemaText).schema;
  const canonical = canonicalSchemaString(parsed);
  const fingerprint = fingerprintOf(parsed);
  return withTransaction(pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`registry:${subject}`]);
    const existing = await tx.query<{ version: number; id: number }>(
      `SELECT v.version, v.schema_id AS id FROM registry_subject_versions v JOIN registry_schemas s ON s.id = v.schema_id
       WHERE v.subject = $1 AND s.fingerprint = $2 AND NOT v.deleted ORDER BY v.version DESC LIMIT 1`,
      [subject, fingerprint],
    );
    if (existing.rows[0]) return { ...existing.rows[0], created: false };

    const level = await effectiveCompatibility(tx, subject);
    const verdict = checkCompatibility(level, parsed as never, (await liveSchemas(tx, subject)) as never[]);
    if (!verdict.compatible) throw new IncompatibleSchemaError(level, verdict.messages, verdict.incompatibilities);

    await tx.query(
      `INSERT INTO registry_schemas (schema, canonical, fingerprint) VALUES ($1, $2, $3) ON CONFLICT (fingerprint) DO NOTHING`,
      [schemaText, canonical, fingerprint],
    );
    const { rows: idRows } = await tx.query<{ id: number }>('SELECT id FROM registry_schemas WHERE fingerprint = $1', [fingerprint]);
    const id = idRows[0]!.id;
    const { rows: vRows } = await tx.query<{ next: number }>(
      'SELECT coalesce(max(version), 0) + 1 AS next FROM registry_subject_versions WHERE subject = $1',
      [subject],
    );
    const version = vRows[0]!.next;
    await tx.query('INSERT INTO registry_subject_versions (subject, version, schema_id) VALUES ($1, $2, $3)', [subject, version, id]);
    return { id, version, created: true };
  });
}

/** Soft-deletes (or, with permanent, removes soft-deleted) versions; returns the versions affected. */
export async function deleteSubject(pool: Pool, subject: string, permanent: boolean): Promise<number[]> {
  return withTransaction(pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`registry:${subject}`]);
    const r = permanent
      ? await tx.query<{ version: number }>(
          'DELETE FROM registry_subject_versions WHERE subject = $1 AND deleted RETURNING version',
          [subject],
        )
      : await tx.query<{ version: number }>(
          'UPDATE registry_subject_versions SET deleted = true WHERE subject = $1 AND NOT deleted RETURNING version',
          [subject],
        );
    return r.rows.map((x) => x.version).sort((a, b) => a - b);
  });
}

export async function deleteSubjectVersion(pool: Pool, subject: string, version: number, permanent: boolean): Promise<boolean> {
  const r = permanent
    ? await pool.query('DELETE FROM registry_subject_versions WHERE subject = $1 AND version = $2 AND deleted', [subject, version])
    : await pool.query(
        'UPDATE registry_subject_versions SET deleted = true WHERE subject = $1 AND version = $2 AND NOT deleted',
        [subject, version],
      );
  return (r.rowCount ?? 0) > 0;
}
