import type pg from 'pg';
import type { Pool, PoolClient } from '../../lib/db';
import { type Keyring, openDefaultKeyring } from '../../lib/keyring';
import { maskSecrets, type RawConfig } from '../config';
import type { ConnectorClass } from '../plugins';

/**
 * Connector definitions, status and source offsets in govx's PostgreSQL (migration 0006).
 *
 * Secrets at rest (migration 0014): a definition's full config is stored sealed with the keyring
 * (`sealed_config`, AES-256-GCM bound to `connector:<name>`, key outside the database); the `config` column holds
 * it with every secret masked, so a reader of the database (or of a backup) finds no password or HMAC secret.
 * Only this module reads and writes the two columns; definitions stored before sealing are sealed at start-up
 * (`sealStoredConnectorSecrets`).
 */

let keyringForSecrets: Keyring | null = null;
const secretsKeyring = (): Keyring => (keyringForSecrets ??= openDefaultKeyring());

/** The configured keyring (GOVX_KEYS_DIR / GOVX_MASTER_KEY), set by the gateway and the connect worker at start-up. */
export function useConnectorSecretsKeyring(keyring: Keyring): void {
  keyringForSecrets = keyring;
}
const sealContext = (name: string): string => `connector:${name}`;

function sealConfig(name: string, config: RawConfig): { masked: string; sealed: string } {
  return { masked: JSON.stringify(maskSecrets(config)), sealed: secretsKeyring().seal(JSON.stringify(config), sealContext(name)) };
}

type Db = Pool | PoolClient | pg.Client;

export type DesiredState = 'RUNNING' | 'PAUSED';
export type ConnectorState = 'RUNNING' | 'PAUSED' | 'FAILED' | 'UNASSIGNED';

export interface ConnectorDefinition {
  name: string;
  connectorClass: ConnectorClass;
  owner: string;
  config: RawConfig;
  desiredState: DesiredState;
  generation: number;
  /** the generation in which it failed, if it failed since its last resume or config change */
  failedGeneration: number | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

interface DefinitionRow {
  name: string;
  connector_class: ConnectorClass;
  owner: string;
  config: RawConfig;
  sealed_config: string | null;
  desired_state: DesiredState;
  generation: number;
  failed_generation: number | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

const SELECT_DEFINITION = `SELECT c.name, c.connector_class, c.owner, c.config, c.sealed_config, c.desired_state, c.generation, s.failed_generation,
  c.created_by, c.created_at, c.updated_at FROM connectors c LEFT JOIN connector_status s ON s.name = c.name`;

function fromRow(r: DefinitionRow): ConnectorDefinition {
  return {
    name: r.name,
    connectorClass: r.connector_class,
    owner: r.owner,
    config: r.sealed_config === null ? r.config : (JSON.parse(secretsKeyring().unseal(r.sealed_config, sealContext(r.name))) as RawConfig),
    desiredState: r.desired_state,
    generation: r.generation,
    failedGeneration: r.failed_generation,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export async function listConnectors(db: Db, owner?: string): Promise<ConnectorDefinition[]> {
  const { rows } = await db.query<DefinitionRow>(
    `${SELECT_DEFINITION} WHERE $1::text IS NULL OR c.owner = $1 ORDER BY c.name`,
    [owner ?? null],
  );
  return rows.map(fromRow);
}

export async function getConnector(db: Db, name: string): Promise<ConnectorDefinition | null> {
  const { rows } = await db.query<DefinitionRow>(`${SELECT_DEFINITION} WHERE c.name = $1`, [name]);
  return rows[0] ? fromRow(rows[0]) : null;
}

/** Inserts a new connector; false when the name is taken. */
export async function insertConnector(
  db: Db,
  c: { name: string; connectorClass: ConnectorClass; owner: string; config: RawConfig; createdBy: string },
): Promise<boolean> {
  const { masked, sealed } = sealConfig(c.name, c.config);
  const r = await db.query(
    `INSERT INTO connectors (name, connector_class, owner, config, sealed_config, created_by) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (name) DO NOTHING`,
    [c.name, c.connectorClass, c.owner, masked, sealed, c.createdBy],
  );
  if ((r.rowCount ?? 0) === 0) return false;
  await db.query('INSERT INTO connector_status (name) VALUES ($1) ON CONFLICT DO NOTHING', [c.name]);
  return true;
}

/** A new config: a new generation, so workers restart the task with it and a past failure is forgotten. */
export async function updateConnectorConfig(db: Db, name: string, config: RawConfig, owner: string): Promise<boolean> {
  const { masked, sealed } = sealConfig(name, config);
  const r = await db.query(
    `UPDATE connectors SET config = $2, sealed_config = $4, owner = $3, generation = generation + 1, updated_at = now() WHERE name = $1`,
    [name, masked, owner, sealed],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Seals the definitions stored in clear before sealing existed (or by hand); the number sealed. */
export async function sealStoredConnectorSecrets(db: Db): Promise<number> {
  const { rows } = await db.query<{ name: string; config: RawConfig }>('SELECT name, config FROM connectors WHERE sealed_config IS NULL');
  let sealed = 0;
  for (const row of rows) {
    const s = sealConfig(row.name, row.config);
    const r = await db.query('UPDATE connectors SET config = $2, sealed_config = $3 WHERE name = $1 AND sealed_config IS NULL', [row.name, s.masked, s.sealed]);
    sealed += r.rowCount ?? 0;
  }
  return sealed;
}

export async function setDesiredState(db: Db, name: string, state: DesiredState): Promise<boolean> {
  // Resuming a FAILED connector restarts it: a new generation is one the failure does not apply to.
  const r = await db.query(
    `UPDATE connectors c SET desired_state = $2, updated_at = now(),
       generation = CASE WHEN $2 = 'RUNNING' AND s.failed_generation = c.generation THEN c.generation + 1 ELSE c.generation END
     FROM connector_status s WHERE c.name = $1 AND s.name = c.name`,
    [name, state],
  );
  return (r.rowCount ?? 0) > 0;
}

export async function deleteConnector(db: Db, name: string): Promise<boolean> {
  const r = await db.query('DELETE FROM connectors WHERE name = $1', [name]);
  return (r.rowCount ?? 0) > 0;
}

// --- status -------------------------------------------------------------------------------------

export interface TaskRow {
  workerId: string;
  state: 'RUNNING' | 'PAUSED' | 'FAILED';
  lag: number | null;
  heartbeatAt: string;
  fresh: boolean;
}

export interface ConnectorStatus {
  name: string;
  state: ConnectorState;
  workerId: string | null;
  tasks: TaskRow[];
  recordsIn: number;
  recordsOut: number;
  recordsDeadLettered: number;
  lag: number | null;
  lastError: string | null;
  lastErrorAt: string | null;
}

/**
 * The state any gateway can report: FAILED when the current generation failed, PAUSED when paused,
 * RUNNING when some worker's heartbeat is fresh, else UNASSIGNED (no worker has picked it up, or its
 * worker died).
 */
export async function getStatus(db: Db, def: ConnectorDefinition, staleAfterMs: number): Promise<ConnectorStatus> {
  const [{ rows: totals }, { rows: tasks }] = await Promise.all([
    db.query<{ records_in: string; records_out: string; records_dead: string; last_error: string | null; last_error_at: Date | null }>(
      'SELECT records_in, records_out, records_dead, last_error, last_error_at FROM connector_status WHERE name = $1',
      [def.name],
    ),
    db.query<{ worker_id: string; state: TaskRow['state']; lag: string | null; heartbeat_at: Date; fresh: boolean }>(
      `SELECT worker_id, state, lag, heartbeat_at, heartbeat_at > now() - make_interval(secs => $2::double precision / 1000) AS fresh
       FROM connector_tasks WHERE name = $1 ORDER BY worker_id`,
      [def.name, staleAfterMs],
    ),
  ]);
  const t = totals[0];
  const taskRows: TaskRow[] = tasks.map((r) => ({
    workerId: r.worker_id,
    state: r.state,
    lag: r.lag === null ? null : Number(r.lag),
    heartbeatAt: r.heartbeat_at.toISOString(),
    fresh: r.fresh,
  }));
  const live = taskRows.filter((r) => r.fresh);
  let state: ConnectorState;
  if (def.failedGeneration !== null && def.failedGeneration === def.generation) state = 'FAILED';
  else if (def.desiredState === 'PAUSED') state = 'PAUSED';
  else state = live.some((r) => r.state === 'RUNNING') ? 'RUNNING' : 'UNASSIGNED';
  const lags = live.map((r) => r.lag).filter((l): l is number => l !== null);
  return {
    name: def.name,
    state,
    workerId: live[0]?.workerId ?? null,
    tasks: live,
    recordsIn: Number(t?.records_in ?? 0),
    recordsOut: Number(t?.records_out ?? 0),
    recordsDeadLettered: Number(t?.records_dead ?? 0),
    lag: lags.length ? lags.reduce((a, b) => a + b, 0) : null,
    lastError: t?.last_error ?? null,
    lastErrorAt: t?.last_error_at?.toISOString() ?? null,
  };
}

export async function addCounts(db: Db, name: string, d: { in: number; out: number; dead: number }): Promise<void> {
  if (d.in === 0 && d.out === 0 && d.dead === 0) return;
  await db.query(
    `UPDATE connector_status SET records_in = records_in + $2, records_out = records_out + $3, records_dead = records_dead + $4,
       updated_at = now() WHERE name = $1`,
    [name, d.in, d.out, d.dead],
  );
}

export async function recordError(db: Db, name: string, message: string, failedGeneration: number | null): Promise<void> {
  await db.query(
    `UPDATE connector_status SET last_error = $2, last_error_at = now(),
       failed_generation = COALESCE($3, failed_generation), updated_at = now() WHERE name = $1`,
    [name, message.slice(0, 4000), failedGeneration],
  );
}

export async function heartbeat(db: Db, name: string, workerId: string, state: TaskRow['state'], lag: number | null): Promise<void> {
  // INSERT … SELECT: a connector deleted meanwhile gets no row (and no foreign-key error).
  await db.query(
    `INSERT INTO connector_tasks (name, worker_id, state, lag, heartbeat_at)
     SELECT $1, $2, $3, $4, now() WHERE EXISTS (SELECT 1 FROM connectors WHERE name = $1)
     ON CONFLICT (name, worker_id) DO UPDATE SET state = EXCLUDED.state, lag = EXCLUDED.lag, heartbeat_at = now()`,
    [name, workerId, state, lag],
  );
}

export async function forgetDeadTasks(db: Db, olderThanMs: number): Promise<void> {
  await db.query(`DELETE FROM connector_tasks WHERE heartbeat_at < now() - make_interval(secs => $1::double precision / 1000)`, [olderThanMs]);
}

export async function removeTask(db: Db, name: string, workerId: string): Promise<void> {
  await db.query('DELETE FROM connector_tasks WHERE name = $1 AND worker_id = $2', [name, workerId]);
}

// --- source offsets -----------------------------------------------------------------------------

export async function readOffsets<T>(db: Db, name: string): Promise<Map<string, T>> {
  const { rows } = await db.query<{ partition: string; position: T }>('SELECT partition, position FROM connector_offsets WHERE name = $1', [name]);
  return new Map(rows.map((r) => [r.partition, r.position]));
}

/** Stores a source position; false when the connector was deleted meanwhile. */
export async function writeOffset(db: Db, name: string, partition: string, position: unknown): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO connector_offsets (name, partition, position, updated_at)
     SELECT $1, $2, $3, now() WHERE EXISTS (SELECT 1 FROM connectors WHERE name = $1)
     ON CONFLICT (name, partition) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
    [name, partition, JSON.stringify(position)],
  );
  return (r.rowCount ?? 0) > 0;
}
