import crypto from 'node:crypto';
import { appendAudit, type AuditActor } from './audit';
import { consumerGroupPrefix, type KafkaAccess, kafkaPrincipal, kafkaUsername } from './kafkaAccess';
import type { KeyManager } from './keyService';
import { getDepartment } from './keys';
import { withTransaction, type Pool } from '../lib/db';
import { ConflictError, errorMessage, NotFoundError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { ScramCredentialStore } from '../lib/scramCredentials';

/**
 * Departments' Kafka credentials (decision 0014): one SCRAM-SHA-512 principal per department,
 * `User:dept.<department>`, issued, rotated and revoked by the department's stewards or administrators (or
 * the operator at the CLI). The password is generated here, set at the broker through Kafka's Admin API and
 * returned once; the broker keeps only its salted hash, and govx's database only who was issued what when.
 * Every issue, rotation and revocation is audited. To anyone else a department's credentials look like a
 * department that does not exist.
 */

/** PBKDF2 iterations of the SCRAM hash the broker keeps (Kafka's minimum is 4096). */
export const SCRAM_ITERATIONS = 8192;
export const SCRAM_MECHANISM = 'SCRAM-SHA-512';

export interface KafkaCredentialsDeps {
  pool: Pool;
  scram: ScramCredentialStore;
  /** converges the department's ACLs after a change (absent: the reconciler does it later) */
  access?: KafkaAccess;
  /** what departments are told to connect to */
  bootstrapServers: readonly string[];
  log: Logger;
}

export interface KafkaCredentialInfo {
  department: string;
  username: string;
  principal: string;
  mechanism: typeof SCRAM_MECHANISM;
  securityProtocol: 'SASL_SSL';
  bootstrapServers: string[];
  groupPrefix: string;
  status: 'active' | 'revoked';
  createdAt: string;
  rotatedAt: string | null;
  revokedAt: string | null;
}

export interface IssuedKafkaCredential extends KafkaCredentialInfo {
  /** shown only now: govx does not keep it */
  password: string;
}

interface Row {
  department: string;
  username: string;
  created_at: Date;
  rotated_at: Date | null;
  revoked_at: Date | null;
}

const OPERATOR: AuditActor = { department: 'govx', keyId: null, role: 'operator' };
const actorOf = (m: KeyManager): AuditActor =>
  m.kind === 'operator' ? OPERATOR : { department: m.principal.department, keyId: m.principal.keyId, role: m.principal.role };
const madeBy = (m: KeyManager): string => (m.kind === 'operator' ? 'operator' : `${m.principal.department}/${m.principal.keyId}`);
const via = (m: KeyManager): string => (m.kind === 'operator' ? 'cli' : 'api');

const departmentNotFound = (department: string): NotFoundError =>
  new NotFoundError('department.not_found', `no department "${department.slice(0, 64)}"`);

/** The department's stewards, administrators and the operator; for anyone else the department does not exist. */
async function requireManager(pool: Pool, m: KeyManager, department: string): Promise<void> {
  if (m.kind === 'key' && m.principal.role !== 'admin' && !(m.principal.role === 'steward' && m.principal.department === department)) {
    throw departmentNotFound(department);
  }
  if (!(await getDepartment(pool, department))) throw departmentNotFound(department);
}

function info(deps: Pick<KafkaCredentialsDeps, 'bootstrapServers'>, row: Row): KafkaCredentialInfo {
  return {
    department: row.department,
    username: row.username,
    principal: kafkaPrincipal(row.department),
    mechanism: SCRAM_MECHANISM,
    securityProtocol: 'SASL_SSL',
    bootstrapServers: [...deps.bootstrapServers],
    groupPrefix: consumerGroupPrefix(row.department),
    status: row.revoked_at ? 'revoked' : 'active',
    createdAt: row.created_at.toISOString(),
    rotatedAt: row.rotated_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

/** 256 random bits, URL-safe base64 (43 characters): printable, no quoting needed in any client's configuration. */
const newPassword = (): string => crypto.randomBytes(32).toString('base64url');

async function lockedRow(tx: Pick<Pool, 'query'>, department: string): Promise<Row | undefined> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`kafka-credentials:${department}`]);
  const { rows } = await tx.query<Row>('SELECT * FROM kafka_credentials WHERE department = $1', [department]);
  return rows[0];
}

const noLiveCredentials = (department: string): NotFoundError =>
  new NotFoundError('kafka_credentials.not_found', `${department.slice(0, 64)} has no live Kafka credentials`);

async function followedByAcls(deps: KafkaCredentialsDeps, department: string, cause: string): Promise<void> {
  try {
    await deps.access?.syncDepartment(department, cause);
  } catch (err) {
    deps.log.warn({ department, cause, err: errorMessage(err) }, 'kafka ACLs not converged now; the reconciler will');
  }
}

export async function getKafkaCredentials(deps: Pick<KafkaCredentialsDeps, 'pool' | 'bootstrapServers'>, m: KeyManager, department: string): Promise<KafkaCredentialInfo> {
  await requireManager(deps.pool, m, department);
  const { rows } = await deps.pool.query<Row>('SELECT * FROM kafka_credentials WHERE department = $1', [department]);
  if (!rows[0]) throw new NotFoundError('kafka_credentials.not_found', `${department} was never issued Kafka credentials`);
  return info(deps, rows[0]);
}

/** Issues a department's credentials (again, after a revocation); 409 while it has live ones. */
export async function createKafkaCredentials(deps: KafkaCredentialsDeps, m: KeyManager, department: string, requestId: string | null = null): Promise<IssuedKafkaCredential> {
  await requireManager(deps.pool, m, department);
  const username = kafkaUsername(department);
  const password = newPassword();
  const row = await withTransaction(deps.pool, async (tx) => {
    const existing = await lockedRow(tx, department);
    if (existing && !existing.revoked_at) {
      throw new ConflictError('kafka_credentials.exists', `${department} already has live Kafka credentials: rotate them, or revoke them first`);
    }
    await deps.scram.upsert(username, password, SCRAM_ITERATIONS);
    const { rows } = await tx.query<Row>(
      `INSERT INTO kafka_credentials (department, username, iterations, created_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (department) DO UPDATE SET iterations = EXCLUDED.iterations, created_at = now(), created_by = EXCLUDED.created_by,
         rotated_at = NULL, rotated_by = NULL, revoked_at = NULL, revoked_by = NULL
       RETURNING *`,
      [department, username, SCRAM_ITERATIONS, madeBy(m)],
    );
    await appendAudit(tx, {
      actor: actorOf(m), action: 'kafka.credentials.create', target: `kafka-principal:${kafkaPrincipal(department)}`, outcome: 'success', requestId,
      details: { department, username, mechanism: SCRAM_MECHANISM, iterations: SCRAM_ITERATIONS, reissued: existing !== undefined, via: via(m) },
    });
    return rows[0]!;
  });
  await followedByAcls(deps, department, 'kafka credentials issued');
  return { ...info(deps, row), password };
}

/** A new password for the department's live credentials; the old one stops authenticating new connections at once. */
export async function rotateKafkaCredentials(deps: KafkaCredentialsDeps, m: KeyManager, department: string, requestId: string | null = null): Promise<IssuedKafkaCredential> {
  await requireManager(deps.pool, m, department);
  const password = newPassword();
  const row = await withTransaction(deps.pool, async (tx) => {
    const existing = await lockedRow(tx, department);
    if (!existing || existing.revoked_at) throw noLiveCredentials(department);
    await deps.scram.upsert(existing.username, password, SCRAM_ITERATIONS);
    const { rows } = await tx.query<Row>(
      'UPDATE kafka_credentials SET rotated_at = now(), rotated_by = $2, iterations = $3 WHERE department = $1 RETURNING *',
      [department, madeBy(m), SCRAM_ITERATIONS],
    );
    await appendAudit(tx, {
      actor: actorOf(m), action: 'kafka.credentials.rotate', target: `kafka-principal:${kafkaPrincipal(department)}`, outcome: 'success', requestId,
      details: { department, username: existing.username, mechanism: SCRAM_MECHANISM, iterations: SCRAM_ITERATIONS, via: via(m) },
    });
    return rows[0]!;
  });
  return { ...info(deps, row), password };
}

/**
 * Deletes the credential at the broker (no new connection authenticates with it) and withdraws every ACL of
 * the department's principal, so connections it already has are refused at their next request.
 */
export async function revokeKafkaCredentials(deps: KafkaCredentialsDeps, m: KeyManager, department: string, requestId: string | null = null): Promise<KafkaCredentialInfo> {
  await requireManager(deps.pool, m, department);
  const row = await withTransaction(deps.pool, async (tx) => {
    const existing = await lockedRow(tx, department);
    if (!existing || existing.revoked_at) throw noLiveCredentials(department);
    const removed = await deps.scram.remove(existing.username);
    const { rows } = await tx.query<Row>('UPDATE kafka_credentials SET revoked_at = now(), revoked_by = $2 WHERE department = $1 RETURNING *', [department, madeBy(m)]);
    await appendAudit(tx, {
      actor: actorOf(m), action: 'kafka.credentials.revoke', target: `kafka-principal:${kafkaPrincipal(department)}`, outcome: 'success', requestId,
      details: { department, username: existing.username, atBroker: removed, via: via(m) },
    });
    return rows[0]!;
  });
  await followedByAcls(deps, department, 'kafka credentials revoked');
  return info(deps, row);
}
