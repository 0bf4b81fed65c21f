import pg from 'pg';
import { type ConfigReader } from './config';
import { type DatabaseIdentity, IDENTITY_SQL, type TargetGuard, TargetNotAllowed } from './targets';

/**
 * Connections to a department's PostgreSQL database, confined: the URL names one host, port and database
 * and nothing else that changes the target or the session (no `host`, `hostaddr`, `dbname`, `service`,
 * `options`, `passfile`, certificate files…, no unix sockets); the host is resolved and checked against
 * the department's allowance at every connection and the connection goes to the checked address; once
 * connected, a server that is govx's own database (same cluster identity and database name) is refused.
 * Every failure to connect looks alike (`connection.failed`), so a connector cannot tell a closed port
 * from an open one, or a wrong password from a missing database.
 */

/** The query parameters a connection URL may carry: none of them changes where it connects or what the session runs. */
const SAFE_PARAMS = new Set(['sslmode', 'user', 'password', 'connect_timeout']);
const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

export interface PostgresTarget {
  host: string;
  port: number;
  database: string;
  user: string | null;
  password: string | null;
  sslmode: (typeof SSL_MODES)[number];
  connectTimeoutMs: number;
}

/** postgres://, postgresql:// or jdbc:postgresql:// with one TCP host, a port, a database and only safe parameters. */
export function parsePostgresUrl(text: string): PostgresTarget | string {
  let url: URL;
  try {
    url = new URL(text.startsWith('jdbc:') ? text.slice(5) : text);
  } catch {
    return 'must be a PostgreSQL URL such as postgresql://host:5432/db';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return 'must be a PostgreSQL URL such as postgresql://host:5432/db';
  const host = url.hostname;
  if (!host) return 'must name a host (unix sockets are not connector targets)';
  if (/[%/\\,@\s]/.test(host)) return 'must name one TCP host (no unix socket paths, no host lists)';
  const port = url.port ? Number(url.port) : 5432;
  if (!(port >= 1 && port <= 65535)) return 'must have a port between 1 and 65535';
  let database: string;
  try {
    database = decodeURIComponent(url.pathname.slice(1));
  } catch {
    return 'must name a database';
  }
  if (!database || database.includes('/')) return 'must name a database';
  const unsafe = [...url.searchParams.keys()].filter((k) => !SAFE_PARAMS.has(k));
  if (unsafe.length) return `must not carry the parameter(s) ${[...new Set(unsafe)].join(', ')}: only ${[...SAFE_PARAMS].join(', ')} are accepted`;
  const sslmode = url.searchParams.get('sslmode') ?? 'disable';
  if (!(SSL_MODES as readonly string[]).includes(sslmode)) return `sslmode must be one of ${SSL_MODES.join(', ')}`;
  const timeoutText = url.searchParams.get('connect_timeout');
  const timeout = timeoutText === null ? 5 : Number(timeoutText);
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 60) return 'connect_timeout must be 1 to 60 seconds';
  const user = url.searchParams.get('user') ?? (url.username ? decodeURIComponent(url.username) : null);
  const password = url.searchParams.get('password') ?? (url.password ? decodeURIComponent(url.password) : null);
  return { host, port, database, user, password, sslmode: sslmode as PostgresTarget['sslmode'], connectTimeoutMs: timeout * 1000 };
}

/** `connection.url`, checked for its form; the target itself is checked against the department's allowance. */
export function readPostgresConnectionUrl(r: ConfigReader): string {
  const connectionUrl = r.string('connection.url');
  if (connectionUrl) {
    const parsed = parsePostgresUrl(connectionUrl);
    if (typeof parsed === 'string') r.problem('connection.url', `config.connection.url ${parsed}`);
  }
  return connectionUrl;
}

/** Any failure to open a session: one cause for all, so connectors cannot scan ports or guess logins. Transient. */
export class ConnectionFailed extends Error {
  /** SQLSTATE class 08 (connection exception): the runtime retries it */
  readonly code = '08001';
  constructor() {
    super('connection.failed: could not open a session with the configured database (unreachable, refused or not accepting these credentials)');
    this.name = 'ConnectionFailed';
  }
}

export interface GuardedPostgresOptions {
  guard: TargetGuard;
  /** the connector's department, whose allowance applies */
  department: string;
  connectionUrl: string;
  user: string | null;
  password: string | null;
  applicationName: string;
  statementTimeoutMs?: number;
  types?: pg.CustomTypesConfig;
}

function clientConfig(o: GuardedPostgresOptions, t: PostgresTarget): pg.ClientConfig {
  const ssl = t.sslmode === 'disable' || t.sslmode === 'prefer' ? false : t.sslmode === 'verify-full' ? { servername: t.host, rejectUnauthorized: true } : t.sslmode === 'verify-ca' ? { rejectUnauthorized: true, checkServerIdentity: () => undefined } : { rejectUnauthorized: false };
  return {
    host: t.host,
    port: t.port,
    database: t.database,
    user: o.user ?? t.user ?? undefined,
    password: o.password ?? t.password ?? undefined,
    ssl,
    application_name: o.applicationName.slice(0, 63),
    connectionTimeoutMillis: t.connectTimeoutMs,
    ...(o.statementTimeoutMs ? { statement_timeout: o.statementTimeoutMs } : {}),
    ...(o.types ? { types: o.types } : {}),
  };
}

const sameDatabase = (a: DatabaseIdentity, b: DatabaseIdentity): boolean => a.systemIdentifier === b.systemIdentifier && a.database === b.database;

/** A pg.Client that checks its target before it connects and the server's identity after; usable by pg.Pool. */
export function guardedClientClass(o: GuardedPostgresOptions): typeof pg.Client {
  const target = parsePostgresUrl(o.connectionUrl);
  class GuardedClient extends pg.Client {
    constructor() {
      super(typeof target === 'string' ? {} : clientConfig(o, target));
    }

    private async guardedConnect(): Promise<void> {
      if (typeof target === 'string') throw new TargetNotAllowed('config.connection.url');
      const addresses = await o.guard.postgres(o.department, target.host, target.database);
      const govx = await o.guard.govxIdentity();
      // connect to the address that was checked, never to the name again
      (this as unknown as { host: string }).host = addresses[0]!.address;
      try {
        await super.connect();
      } catch {
        throw new ConnectionFailed();
      }
      let identity: DatabaseIdentity | undefined;
      try {
        const { rows } = await this.query<{ system_identifier: string; database: string }>(IDENTITY_SQL);
        identity = { systemIdentifier: rows[0]!.system_identifier, database: rows[0]!.database };
      } catch {
        identity = undefined;
      }
      if (!identity || sameDatabase(identity, govx)) {
        await this.end().catch(() => undefined);
        throw new TargetNotAllowed(identity ? "config.connection.url (govx's own database)" : 'config.connection.url (a server whose identity cannot be read)');
      }
    }

    // pg.Pool calls connect(callback); connectors await connect().
    override connect(): Promise<pg.Client>;
    override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
    override connect(callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): Promise<pg.Client> | void {
      const p = this.guardedConnect().then(() => this as pg.Client);
      if (!callback) return p;
      const cb = callback as (err: Error | null, c?: pg.Client) => void;
      p.then((c) => cb(null, c), (err: Error) => cb(err));
    }
  }
  return GuardedClient as unknown as typeof pg.Client;
}

/** One guarded connection. */
export async function connectGuarded(o: GuardedPostgresOptions): Promise<pg.Client> {
  const Client = guardedClientClass(o);
  const client = new Client();
  client.on('error', () => undefined); // a dropped connection surfaces on the next query, which is retried
  await client.connect();
  return client;
}

/** A pool of guarded connections: every new connection is checked again. */
export function guardedPool(o: GuardedPostgresOptions, max: number): pg.Pool {
  return new pg.Pool({ Client: guardedClientClass(o), max } as pg.PoolConfig);
}

/**
 * A database error as a status, log line or dead-letter header may show it: the SQLSTATE and the column or
 * constraint it names, never the server's message (which can quote the offending value).
 */
export function describeDatabaseError(err: unknown): string {
  if (err instanceof TargetNotAllowed || err instanceof ConnectionFailed) return err.message;
  const e = err as { code?: unknown; column?: unknown; constraint?: unknown; table?: unknown };
  if (typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
    const where = [typeof e.table === 'string' ? `table ${e.table}` : '', typeof e.column === 'string' ? `column ${e.column}` : '', typeof e.constraint === 'string' ? `constraint ${e.constraint}` : '']
      .filter(Boolean)
      .join(', ');
    return `database error ${e.code}${where ? ` (${where})` : ''}`;
  }
  return err instanceof Error ? err.message : 'database error';
}

/** A database error without the server's text (it can quote a value); keeps the SQLSTATE, so retrying stays right. */
export function sanitizeDatabaseError(err: unknown): unknown {
  if (err instanceof TargetNotAllowed || err instanceof ConnectionFailed || !(err && typeof err === 'object' && 'code' in err)) return err;
  const clean = new Error(describeDatabaseError(err)) as Error & { code?: unknown };
  clean.code = (err as { code?: unknown }).code;
  return clean;
}
