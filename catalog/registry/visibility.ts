import type { Principal } from '../keys';
import type { Pool, PoolClient } from '../../lib/db';

/**
 * Which registry subjects a key may read. A share subject's schema is the list of fields a consumer was
 * granted, so it is the consumer's and the dataset owner's business only. Administrators see every subject;
 * any key of a department sees the subjects of the datasets it owns (its publishers serialize with them) and
 * the share subjects of subscriptions it receives or whose dataset it owns. Every other subject, and every
 * schema id used only by such subjects, looks as if it did not exist.
 */

type Db = Pool | PoolClient;

const VISIBLE_SUBJECTS = `
  SELECT schema_subject AS subject FROM datasets WHERE owner = $1
  UNION
  SELECT s.derived_subject FROM subscriptions s JOIN datasets d ON d.id = s.dataset_id
   WHERE s.derived_subject IS NOT NULL AND (s.consumer = $1 OR d.owner = $1)`;

const isAdmin = (p: Principal): boolean => p.role === 'admin';

/** `subjects` narrowed to those `principal` may read, in their order. */
export async function filterVisibleSubjects(db: Db, principal: Principal, subjects: string[]): Promise<string[]> {
  if (isAdmin(principal) || subjects.length === 0) return subjects;
  const { rows } = await db.query<{ subject: string }>(`SELECT subject FROM (${VISIBLE_SUBJECTS}) v WHERE subject = ANY($2::text[])`, [
    principal.department,
    subjects,
  ]);
  const visible = new Set(rows.map((r) => r.subject));
  return subjects.filter((s) => visible.has(s));
}

export async function subjectVisibleTo(db: Db, principal: Principal, subject: string): Promise<boolean> {
  return (await filterVisibleSubjects(db, principal, [subject])).length === 1;
}

/** Whether any subject version (live or soft-deleted) that uses schema `id` is visible to `principal`. */
export async function schemaVisibleTo(db: Db, principal: Principal, id: number): Promise<boolean> {
  if (isAdmin(principal)) return true;
  const { rows } = await db.query<{ visible: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM registry_subject_versions v WHERE v.schema_id = $2 AND v.subject IN (${VISIBLE_SUBJECTS})) AS visible`,
    [principal.department, id],
  );
  return rows[0]!.visible;
}
