import type pg from 'pg';
import type { Pool, PoolClient } from '../lib/db';
import { type CanonicalAddress, canonicalHostname, HostAllowance, isInternalAddress, isNeverATarget, parseHostEntry, resolveAll } from '../lib/netAddress';
import { ConnectorFailure } from './runtime/retry';

/**
 * Where a department's connectors may connect: set by an administrator for each department
 * (`PUT /v1/departments/{id}/connector-targets`), never by the department itself. Nothing is allowed until
 * an administrator allows it. Every target is judged by the addresses its name resolves to, when the
 * connector is created and again at every connection (DNS can change), and govx connects to the address it
 * checked, not to the name again.
 *
 * - PostgreSQL (sources and sinks): every resolved address must lie in an allowed address or CIDR block, or
 *   the target be named by an allowed host name and resolve to no internal address; the database must be
 *   one of the allowed databases. govx's own database is refused after connecting, by its identity.
 * - Webhooks (http sinks): every resolved address must lie in an allowed block, or the target be named by an
 *   allowed host name; a loopback, private or link-local address also needs `allowPrivate`.
 */

export interface ConnectorTargets {
  department: string;
  postgres: { hosts: string[]; databases: string[] };
  webhooks: { hosts: string[]; allowPrivate: boolean };
  updatedAt: string | null;
  updatedBy: string | null;
}

export const noTargets = (department: string): ConnectorTargets => ({
  department,
  postgres: { hosts: [], databases: [] },
  webhooks: { hosts: [], allowPrivate: false },
  updatedAt: null,
  updatedBy: null,
});

type Db = Pool | PoolClient | pg.Client;

export async function readConnectorTargets(db: Db, department: string): Promise<ConnectorTargets> {
  const { rows } = await db.query<{ postgres_hosts: string[]; postgres_databases: string[]; webhook_hosts: string[]; allow_private_webhooks: boolean; updated_at: Date; updated_by: string }>(
    'SELECT postgres_hosts, postgres_databases, webhook_hosts, allow_private_webhooks, updated_at, updated_by FROM connector_targets WHERE department = $1',
    [department],
  );
  const r = rows[0];
  if (!r) return noTargets(department);
  return {
    department,
    postgres: { hosts: r.postgres_hosts, databases: r.postgres_databases },
    webhooks: { hosts: r.webhook_hosts, allowPrivate: r.allow_private_webhooks },
    updatedAt: r.updated_at.toISOString(),
    updatedBy: r.updated_by,
  };
}

export async function writeConnectorTargets(db: Db, t: Omit<ConnectorTargets, 'updatedAt' | 'updatedBy'>, updatedBy: string): Promise<void> {
  await db.query(
    `INSERT INTO connector_targets (department, postgres_hosts, postgres_databases, webhook_hosts, allow_private_webhooks, updated_by)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (department) DO UPDATE SET postgres_hosts = EXCLUDED.postgres_hosts, postgres_databases = EXCLUDED.postgres_databases,
       webhook_hosts = EXCLUDED.webhook_hosts, allow_private_webhooks = EXCLUDED.allow_private_webhooks, updated_by = EXCLUDED.updated_by, updated_at = now()`,
    [t.department, t.postgres.hosts, t.postgres.databases, t.webhooks.hosts, t.webhooks.allowPrivate, updatedBy],
  );
}

/** The problems of an allowance as an administrator submitted it, each naming its place; entries in canonical form. */
export function checkTargetEntries(t: { postgres: { hosts: string[]; databases: string[] }; webhooks: { hosts: string[] } }): {
  problems: Array<{ key: string; message: string }>;
  hosts: { postgres: string[]; webhooks: string[] };
} {
  const problems: Array<{ key: string; message: string }> = [];
  const canonical = (list: string[], key: string): string[] =>
    list.flatMap((text, i) => {
      const e = parseHostEntry(text);
      if (typeof e === 'string') {
        problems.push({ key: `${key}[${i}]`, message: `${key}[${i}]: ${e}` });
        return [];
      }
      if (e.kind === 'name') return [e.name];
      if (isNeverATarget(e.address)) problems.push({ key: `${key}[${i}]`, message: `${key}[${i}]: ${e.address} reaches the local host or a group, never one server` });
      return [`${e.address}/${e.prefix}`];
    });
  const hosts = { postgres: canonical(t.postgres.hosts, 'postgres.hosts'), webhooks: canonical(t.webhooks.hosts, 'webhooks.hosts') };
  t.postgres.databases.forEach((d, i) => {
    if (d.length === 0 || d.length > 63 || /[\u0000-\u001f]/.test(d)) problems.push({ key: `postgres.databases[${i}]`, message: `postgres.databases[${i}] must be a database name (1 to 63 characters)` });
  });
  return { problems, hosts };
}

/** A target the department's allowance does not cover (or govx's own database): the connector fails, it does not retry. */
export class TargetNotAllowed extends ConnectorFailure {
  readonly code = 'connector.target_not_allowed';
  constructor(what: string) {
    super(`connector.target_not_allowed: ${what} is not among the targets an administrator allowed for this department`);
  }
}

/** Judges resolved addresses against an allowance; throws TargetNotAllowed. `what` names the setting. */
export function checkAddresses(kind: 'postgres' | 'webhook', t: ConnectorTargets, hostname: string, addresses: CanonicalAddress[], what: string): void {
  const list = kind === 'postgres' ? t.postgres.hosts : t.webhooks.hosts;
  const allowance = new HostAllowance(list);
  const byName = canonicalHostname(hostname) !== null && allowance.coversName(hostname);
  if (addresses.length === 0) throw new TargetNotAllowed(what);
  for (const a of addresses) {
    if (isNeverATarget(a.address)) throw new TargetNotAllowed(what);
    const internal = isInternalAddress(a.address);
    const covered = allowance.coversAddress(a) || byName;
    if (!covered) throw new TargetNotAllowed(what);
    if (kind === 'postgres' && internal && !allowance.coversAddress(a)) throw new TargetNotAllowed(what);
    if (kind === 'webhook' && internal && !t.webhooks.allowPrivate) throw new TargetNotAllowed(what);
  }
}

/** Resolves `host` (a name, or an address in any form) and judges every address; returns the addresses to connect to. */
export async function resolveAllowed(kind: 'postgres' | 'webhook', t: ConnectorTargets, host: string, what: string): Promise<CanonicalAddress[]> {
  let addresses: CanonicalAddress[];
  try {
    addresses = await resolveAll(host);
  } catch {
    // a name that does not resolve is refused like any other target: no DNS oracle
    throw new TargetNotAllowed(what);
  }
  checkAddresses(kind, t, host, addresses, what);
  return addresses;
}

/** govx's own database, as a server sees it: the cluster's system identifier and the database name. */
export interface DatabaseIdentity {
  systemIdentifier: string;
  database: string;
}

export const IDENTITY_SQL = 'SELECT (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier, current_database() AS database';

/**
 * What connectors of a department may reach, read fresh at every check (an administrator's change applies
 * to the next connection), and govx's own database identity, learned once.
 */
export class TargetGuard {
  private identity: Promise<DatabaseIdentity> | null = null;

  constructor(private readonly pool: Pool) {}

  /** govx's own identity (learned from its pool at start-up, then kept). */
  govxIdentity(): Promise<DatabaseIdentity> {
    this.identity ??= this.pool.query<DatabaseIdentity & { system_identifier: string }>(IDENTITY_SQL).then(({ rows }) => ({
      systemIdentifier: rows[0]!.system_identifier,
      database: rows[0]!.database,
    }));
    this.identity.catch(() => (this.identity = null));
    return this.identity;
  }

  allowance(department: string): Promise<ConnectorTargets> {
    return readConnectorTargets(this.pool, department);
  }

  /** The checked addresses of a PostgreSQL target; refuses a database not allowed. */
  async postgres(department: string, host: string, database: string): Promise<CanonicalAddress[]> {
    const t = await this.allowance(department);
    if (!t.postgres.databases.includes(database)) throw new TargetNotAllowed('config.connection.url');
    return resolveAllowed('postgres', t, host, 'config.connection.url');
  }

  /** The checked addresses of a webhook host. */
  async webhook(department: string, host: string): Promise<CanonicalAddress[]> {
    return resolveAllowed('webhook', await this.allowance(department), host, 'config.http.url');
  }
}
