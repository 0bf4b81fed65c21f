import path from 'node:path';

/**
 * Connector configurations in Kafka Connect's shape: `{"name", "config": {"connector.class", …}}` with the
 * JDBC connectors' key names. Values are strings as in Kafka Connect (numbers and booleans are accepted
 * and kept as strings). Every problem is reported at once, each naming its key.
 */

export const sourceClasses = ['postgres-source', 'file-source'] as const;
export const sinkClasses = ['file-sink', 'postgres-sink', 'http-sink'] as const;
export const connectorClasses = [...sourceClasses, ...sinkClasses] as const;
export type ConnectorClass = (typeof connectorClasses)[number];
export type ConnectorKind = 'source' | 'sink';

export const kindOf = (cls: ConnectorClass): ConnectorKind => ((sourceClasses as readonly string[]).includes(cls) ? 'source' : 'sink');

/**
 * Connectors that must run on exactly one worker at a time: sources (one reader of the table or directory)
 * and the file sink (one appender, so a torn line can be cut off safely). Other sinks scale out through
 * their consumer group.
 */
export const runsOnOneWorker = (cls: ConnectorClass): boolean => kindOf(cls) === 'source' || cls === 'file-sink';

export const CONNECTOR_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$/;
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const DATASET_ID = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
const SUBSCRIPTION_ID = /^sub-[a-z0-9]{20}$/;
/** Topics a department's connector may dead-letter into besides its dataset's own DLQ topic. */
const CONNECT_DLQ_PREFIX = 'govx.dlq.connect.';

export type RawConfig = Record<string, string>;

/** The directory file connectors are confined to (GOVX_CONNECT_FILE_ROOT, relative to the working directory). */
export const connectFileRoot = (config: { connectFileRoot: string }): string => path.resolve(config.connectFileRoot);

export interface ConfigProblem {
  key: string;
  message: string;
}

export interface CommonConfig {
  name: string;
  errorsTolerance: 'none' | 'all';
  /** null only when errors.tolerance is none */
  deadLetterTopic: string | null;
  /** -1: retry transient faults forever */
  retryTimeoutMs: number;
  retryDelayMaxMs: number;
}

export interface PostgresSourceConfig extends CommonConfig {
  connectorClass: 'postgres-source';
  connectionUrl: string;
  connectionUser: string | null;
  connectionPassword: string | null;
  table: string;
  dataset: string;
  mode: 'timestamp' | 'timestamp+incrementing';
  timestampColumn: string;
  incrementingColumn: string | null;
  pollIntervalMs: number;
  batchMaxRows: number;
  timestampDelayMs: number;
}

export interface FileSourceConfig extends CommonConfig {
  connectorClass: 'file-source';
  dataset: string;
  directory: string;
  format: 'csv' | 'ndjson';
  pollIntervalMs: number;
  batchMaxRows: number;
}

export interface FileSinkConfig extends CommonConfig {
  connectorClass: 'file-sink';
  topics: string[];
  file: string;
  batchMaxRows: number;
}

export interface PostgresSinkConfig extends CommonConfig {
  connectorClass: 'postgres-sink';
  subscription: string;
  /** derived: the subscription's share topic */
  topics: string[];
  connectionUrl: string;
  connectionUser: string | null;
  connectionPassword: string | null;
  tableNameFormat: string;
  insertMode: 'upsert' | 'insert';
  pkMode: 'record_key';
  autoCreate: boolean;
  autoEvolve: boolean;
  deleteEnabled: boolean;
  batchMaxRows: number;
}

export interface HttpSinkConfig extends CommonConfig {
  connectorClass: 'http-sink';
  subscription: string;
  topics: string[];
  url: string;
  hmacSecret: string | null;
  timeoutMs: number;
  allowPrivate: boolean;
  batchMaxRows: number;
}

/** Sinks that deliver one subscription's share topic to the consuming department. */
export type SubscriptionSinkConfig = PostgresSinkConfig | HttpSinkConfig;

export type ConnectorConfig = PostgresSourceConfig | FileSourceConfig | FileSinkConfig | PostgresSinkConfig | HttpSinkConfig;

export interface ValidationContext {
  /** Every file a connector reads or writes must lie under this directory. */
  fileRoot: string;
  /** govx's own database: a source may not read from it (it would leak govx's tables into a dataset). */
  govxDatabaseUrl: string;
}

interface KeySpec {
  doc: string;
  required?: boolean;
  default?: string;
}

const commonKeys: Record<string, KeySpec> = {
  'connector.class': { doc: `one of ${connectorClasses.join(', ')}`, required: true },
  name: { doc: 'the connector name (optional; must equal the top-level name)' },
  'tasks.max': { doc: 'accepted for familiarity; a source runs one task, a sink one consumer per worker', default: '1' },
  'errors.tolerance': { doc: '`none` fails the connector on a bad record; `all` sends it to the dead-letter topic', default: 'none' },
  'errors.deadletterqueue.topic.name': { doc: 'dead-letter topic (with errors.tolerance=all)' },
  'errors.retry.timeout': { doc: 'how long to retry a transient fault before failing, ms (-1: forever)', default: '300000' },
  'errors.retry.delay.max.ms': { doc: 'longest wait between retries, ms', default: '60000' },
};

export const keySpecs: Record<ConnectorClass, Record<string, KeySpec>> = {
  'postgres-source': {
    ...commonKeys,
    'connection.url': { doc: 'postgresql://host:5432/db (or jdbc:postgresql://…)', required: true },
    'connection.user': { doc: 'user name (or in the URL)' },
    'connection.password': { doc: 'password (or in the URL); never returned' },
    'table.include.list': { doc: 'the one table (schema.table) whose columns are named as the dataset fields', required: true },
    dataset: { doc: 'the dataset the rows are published to', required: true },
    mode: { doc: '`timestamp` (ordered by timestamp, then the dataset key) or `timestamp+incrementing`', required: true },
    'timestamp.column.name': { doc: 'the column updated on every change', required: true },
    'incrementing.column.name': { doc: 'a strictly increasing column (mode timestamp+incrementing)' },
    'poll.interval.ms': { doc: 'wait between polls when caught up', default: '5000' },
    'batch.max.rows': { doc: 'rows per batch', default: '500' },
    'timestamp.delay.interval.ms': { doc: 'read a row only once its timestamp is this old (late commits)', default: '0' },
  },
  'file-source': {
    ...commonKeys,
    dataset: { doc: 'the dataset the records are published to', required: true },
    'file.path': { doc: 'directory whose .csv / .ndjson files are each published once', required: true },
    format: { doc: '`csv` (header row) or `ndjson`', required: true },
    'poll.interval.ms': { doc: 'wait between directory scans', default: '5000' },
    'batch.max.rows': { doc: 'records per batch', default: '500' },
  },
  'file-sink': {
    ...commonKeys,
    topics: { doc: 'comma-separated govx topics to write', required: true },
    file: { doc: 'the NDJSON file records are appended to', required: true },
    'batch.max.rows': { doc: 'records per write (and fsync)', default: '500' },
  },
  'postgres-sink': {
    ...commonKeys,
    subscription: { doc: 'the subscription whose share topic is written (sub-…)', required: true },
    'connection.url': { doc: "the consumer's database: postgresql://host:5432/db (or jdbc:postgresql://…)", required: true },
    'connection.user': { doc: 'user name (or in the URL)' },
    'connection.password': { doc: 'password (or in the URL); never returned' },
    'table.name.format': { doc: 'target table, optionally schema-qualified; ${subscription} and ${topic} are replaced', default: '${subscription}' },
    'insert.mode': { doc: '`upsert` (by the record key) or `insert` (append)', default: 'upsert' },
    'pk.mode': { doc: '`record_key`: the record key is the primary key (column _govx_key)', default: 'record_key' },
    'auto.create': { doc: 'create the table from the derived schema', default: 'true' },
    'auto.evolve': { doc: 'add columns when the derived schema gains fields', default: 'true' },
    'delete.enabled': { doc: 'a tombstone deletes the row (upsert mode)', default: 'true' },
    'batch.max.rows': { doc: 'records per transaction', default: '500' },
  },
  'http-sink': {
    ...commonKeys,
    subscription: { doc: 'the subscription whose share topic is delivered (sub-…)', required: true },
    'http.url': { doc: "the consumer's webhook: http(s)://host/path", required: true },
    'hmac.secret': { doc: 'shared secret for the X-Govx-Signature header; never returned' },
    'http.timeout.ms': { doc: 'how long one POST may take', default: '10000' },
    'http.allow.private': { doc: 'allow loopback, link-local and private addresses (for a webhook inside the same network)', default: 'false' },
    'batch.max.rows': { doc: 'records per POST', default: '100' },
  },
};

export const SECRET_MASK = '********';

function isSecretKey(key: string): boolean {
  return key === 'connection.password' || key === 'hmac.secret' || /(^|\.)(password|secret)$/.test(key);
}

function maskUrlPassword(value: string): string {
  try {
    const jdbc = value.startsWith('jdbc:');
    const url = new URL(jdbc ? value.slice(5) : value);
    let changed = false;
    if (url.password) {
      url.password = SECRET_MASK;
      changed = true;
    }
    if (url.searchParams.has('password')) {
      url.searchParams.set('password', SECRET_MASK);
      changed = true;
    }
    if (!changed) return value;
    return `${jdbc ? 'jdbc:' : ''}${url.toString()}`;
  } catch {
    // Not a URL we can parse: it may still carry a secret, so show none of it.
    return SECRET_MASK;
  }
}

/** The config as the API shows it and as logs may carry it: secrets replaced by a mask. */
export function maskSecrets(config: RawConfig): RawConfig {
  const out: RawConfig = {};
  for (const [k, v] of Object.entries(config)) {
    if (isSecretKey(k)) out[k] = SECRET_MASK;
    else if (k.endsWith('.url')) out[k] = maskUrlPassword(v);
    else out[k] = v;
  }
  return out;
}

/**
 * A config submitted again after a GET carries masks where the secrets were: those keep the stored secret,
 * so a client can edit one key without knowing the password.
 */
export function restoreMaskedSecrets(submitted: RawConfig, stored: RawConfig): RawConfig {
  const out = { ...submitted };
  for (const [k, v] of Object.entries(submitted)) {
    if (stored[k] === undefined) continue;
    if (isSecretKey(k) && v === SECRET_MASK) out[k] = stored[k]!;
    else if (k.endsWith('.url') && v !== stored[k] && v === maskUrlPassword(stored[k]!)) out[k] = stored[k]!;
  }
  return out;
}

/** `{"a": 1, "b": true}` → `{"a": "1", "b": "true"}`; anything else than scalars is a problem. */
export function normalizeRawConfig(config: unknown): { config: RawConfig; problems: ConfigProblem[] } {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    return { config: {}, problems: [{ key: 'config', message: 'config must be a JSON object of string values' }] };
  }
  const out: RawConfig = {};
  const problems: ConfigProblem[] = [];
  for (const [k, v] of Object.entries(config as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') out[k] = String(v);
    else problems.push({ key: k, message: `config.${k} must be a string` });
  }
  return { config: out, problems };
}

class Reader {
  readonly problems: ConfigProblem[] = [];

  constructor(
    private readonly raw: RawConfig,
    private readonly specs: Record<string, KeySpec>,
  ) {}

  private value(key: string): string | undefined {
    const v = this.raw[key];
    if (v !== undefined && v.trim() !== '') return v.trim();
    if (this.specs[key]?.required) this.problem(key, `config.${key} is required (${this.specs[key]!.doc})`);
    return this.specs[key]?.default;
  }

  failed(key: string): boolean {
    return this.problems.some((p) => p.key === key);
  }

  problem(key: string, message: string): void {
    this.problems.push({ key, message });
  }

  string(key: string, pattern?: RegExp, what?: string): string {
    const v = this.value(key);
    if (v === undefined) return '';
    if (pattern && !pattern.test(v)) this.problem(key, `config.${key} must be ${what}`);
    return v;
  }

  optional(key: string): string | null {
    return this.value(key) ?? null;
  }

  int(key: string, min: number, max: number): number {
    const v = this.value(key);
    if (v === undefined) return min;
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || n < min || n > max) {
      this.problem(key, `config.${key} must be an integer between ${min} and ${max}`);
      return min;
    }
    return n;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const v = this.value(key);
    if (v === undefined) return allowed[0]!;
    if (!(allowed as readonly string[]).includes(v)) {
      this.problem(key, `config.${key} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, got "${v}"`);
      return allowed[0]!;
    }
    return v as T;
  }
}

function insideRoot(root: string, p: string): boolean {
  const resolved = path.resolve(root, p);
  const rel = path.relative(path.resolve(root), resolved);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** postgres://, postgresql:// or jdbc:postgresql:// → a URL node-postgres understands. */
export function toPostgresUrl(value: string): URL | null {
  try {
    const url = new URL(value.startsWith('jdbc:') ? value.slice(5) : value);
    return url.protocol === 'postgres:' || url.protocol === 'postgresql:' ? url : null;
  } catch {
    return null;
  }
}

function sameDatabase(a: URL, b: URL): boolean {
  const host = (u: URL) => (u.hostname === 'localhost' ? '127.0.0.1' : u.hostname || '127.0.0.1');
  const port = (u: URL) => u.port || '5432';
  const db = (u: URL) => decodeURIComponent(u.pathname.slice(1));
  return host(a) === host(b) && port(a) === port(b) && db(a) === db(b);
}

function readCommon(r: Reader, name: string, raw: RawConfig, defaultDeadLetterTopic: string): CommonConfig {
  r.int('tasks.max', 1, 1000);
  if (raw.name !== undefined && raw.name !== name) r.problem('name', `config.name must equal the connector name "${name}"`);
  const errorsTolerance = r.oneOf('errors.tolerance', ['none', 'all'] as const);
  let deadLetterTopic = r.optional('errors.deadletterqueue.topic.name');
  if (deadLetterTopic !== null) {
    if (!TOPIC_NAME.test(deadLetterTopic)) {
      r.problem('errors.deadletterqueue.topic.name', 'config.errors.deadletterqueue.topic.name must be a Kafka topic name (letters, digits, . _ -)');
    } else if (deadLetterTopic !== defaultDeadLetterTopic && !deadLetterTopic.startsWith(CONNECT_DLQ_PREFIX)) {
      r.problem(
        'errors.deadletterqueue.topic.name',
        `config.errors.deadletterqueue.topic.name must be "${defaultDeadLetterTopic}" or start with "${CONNECT_DLQ_PREFIX}"`,
      );
    }
  } else if (errorsTolerance === 'all') {
    deadLetterTopic = defaultDeadLetterTopic;
  }
  return {
    name,
    errorsTolerance,
    deadLetterTopic,
    retryTimeoutMs: r.int('errors.retry.timeout', -1, 86_400_000),
    retryDelayMaxMs: r.int('errors.retry.delay.max.ms', 1, 3_600_000),
  };
}

export type ValidationResult = { ok: true; config: ConnectorConfig } | { ok: false; problems: ConfigProblem[] };

/** Parses and checks a connector config; the same function runs on submission and when a worker starts it. */
export function validateConnectorConfig(name: string, raw: RawConfig, ctx: ValidationContext): ValidationResult {
  const problems: ConfigProblem[] = [];
  if (!CONNECTOR_NAME.test(name)) {
    problems.push({ key: 'name', message: 'name must be 1 to 100 letters, digits, ".", "_" or "-", starting with a letter or digit' });
  }
  const cls = raw['connector.class'];
  if (cls === undefined || !(connectorClasses as readonly string[]).includes(cls)) {
    problems.push({
      key: 'connector.class',
      message: cls === undefined ? `config.connector.class is required (one of ${connectorClasses.join(', ')})` : `config.connector.class must be one of ${connectorClasses.join(', ')}, got "${cls}"`,
    });
    return { ok: false, problems };
  }
  const connectorClass = cls as ConnectorClass;
  const specs = keySpecs[connectorClass];
  for (const key of Object.keys(raw)) {
    if (!specs[key]) problems.push({ key, message: `config.${key} is not a setting of ${connectorClass}` });
  }
  const r = new Reader(raw, specs);
  const connectorDlq = `${CONNECT_DLQ_PREFIX}${name}`;
  let config: ConnectorConfig;
  switch (connectorClass) {
    case 'postgres-source': {
      const dataset = r.string('dataset', DATASET_ID, 'a dataset id such as population.residents');
      const common = readCommon(r, name, raw, `govx.dlq.${dataset}`);
      const connectionUrl = r.string('connection.url');
      const url = connectionUrl ? toPostgresUrl(connectionUrl) : null;
      if (connectionUrl && !url) r.problem('connection.url', 'config.connection.url must be a PostgreSQL URL such as postgresql://host:5432/db');
      else if (url && url.pathname.length <= 1) r.problem('connection.url', 'config.connection.url must name a database');
      else if (url) {
        const govx = toPostgresUrl(ctx.govxDatabaseUrl);
        if (govx && sameDatabase(url, govx)) r.problem('connection.url', "config.connection.url must not point at govx's own database");
      }
      const table = r.string('table.include.list', TABLE_NAME, 'one table name, optionally schema-qualified (e.g. public.residents)');
      const mode = r.oneOf('mode', ['timestamp', 'timestamp+incrementing'] as const);
      const timestampColumn = r.string('timestamp.column.name', COLUMN_NAME, 'a column name');
      let incrementingColumn = r.optional('incrementing.column.name');
      if (mode === 'timestamp+incrementing') {
        if (incrementingColumn === null) r.problem('incrementing.column.name', 'config.incrementing.column.name is required with mode timestamp+incrementing');
        else if (!COLUMN_NAME.test(incrementingColumn)) r.problem('incrementing.column.name', 'config.incrementing.column.name must be a column name');
      } else if (incrementingColumn !== null && !r.failed('mode')) {
        r.problem('incrementing.column.name', 'config.incrementing.column.name applies only to mode timestamp+incrementing');
        incrementingColumn = null;
      }
      config = {
        ...common,
        connectorClass,
        connectionUrl,
        connectionUser: r.optional('connection.user'),
        connectionPassword: r.optional('connection.password'),
        table,
        dataset,
        mode,
        timestampColumn,
        incrementingColumn,
        pollIntervalMs: r.int('poll.interval.ms', 10, 86_400_000),
        batchMaxRows: r.int('batch.max.rows', 1, 100_000),
        timestampDelayMs: r.int('timestamp.delay.interval.ms', 0, 86_400_000),
      };
      break;
    }
    case 'file-source': {
      const dataset = r.string('dataset', DATASET_ID, 'a dataset id such as population.residents');
      const common = readCommon(r, name, raw, `govx.dlq.${dataset}`);
      const directory = r.string('file.path');
      if (directory && !insideRoot(ctx.fileRoot, directory)) r.problem('file.path', `config.file.path must lie inside the connector file root (${ctx.fileRoot})`);
      config = {
        ...common,
        connectorClass,
        dataset,
        directory: directory ? path.resolve(ctx.fileRoot, directory) : '',
        format: r.oneOf('format', ['csv', 'ndjson'] as const),
        pollIntervalMs: r.int('poll.interval.ms', 10, 86_400_000),
        batchMaxRows: r.int('batch.max.rows', 1, 100_000),
      };
      break;
    }
    case 'file-sink': {
      const common = readCommon(r, name, raw, connectorDlq);
      const topicsText = r.string('topics');
      const topics = topicsText.split(',').map((t) => t.trim()).filter(Boolean);
      if (topicsText && topics.length === 0) r.problem('topics', 'config.topics must list at least one topic');
      for (const t of topics) {
        if (!TOPIC_NAME.test(t) || !t.startsWith('govx.')) r.problem('topics', `config.topics: "${t}" is not a govx topic (govx.dataset.…, govx.share.…)`);
      }
      const file = r.string('file');
      if (file && !insideRoot(ctx.fileRoot, file)) r.problem('file', `config.file must lie inside the connector file root (${ctx.fileRoot})`);
      else if (file && path.resolve(ctx.fileRoot, file) === path.resolve(ctx.fileRoot)) r.problem('file', 'config.file must name a file, not the root directory');
      config = {
        ...common,
        connectorClass,
        topics,
        file: file ? path.resolve(ctx.fileRoot, file) : '',
        batchMaxRows: r.int('batch.max.rows', 1, 100_000),
      };
      break;
    }
    case 'postgres-sink': {
      const common = readCommon(r, name, raw, connectorDlq);
      const subscription = r.string('subscription', SUBSCRIPTION_ID, 'a subscription id (sub-…)');
      const connectionUrl = r.string('connection.url');
      const url = connectionUrl ? toPostgresUrl(connectionUrl) : null;
      if (connectionUrl && !url) r.problem('connection.url', 'config.connection.url must be a PostgreSQL URL such as postgresql://host:5432/db');
      else if (url && url.pathname.length <= 1) r.problem('connection.url', 'config.connection.url must name a database');
      else if (url) {
        const govx = toPostgresUrl(ctx.govxDatabaseUrl);
        if (govx && sameDatabase(url, govx)) r.problem('connection.url', "config.connection.url must not point at govx's own database");
      }
      const tableNameFormat = r.string('table.name.format');
      const probe = tableNameFormat.replace(/\$\{(subscription|topic)\}/g, 'x');
      if (tableNameFormat && !TABLE_NAME.test(probe)) r.problem('table.name.format', 'config.table.name.format must be a table name, optionally schema-qualified, with ${subscription} or ${topic}');
      config = {
        ...common,
        connectorClass,
        subscription,
        topics: subscription ? [`govx.share.${subscription}`] : [],
        connectionUrl,
        connectionUser: r.optional('connection.user'),
        connectionPassword: r.optional('connection.password'),
        tableNameFormat,
        insertMode: r.oneOf('insert.mode', ['upsert', 'insert'] as const),
        pkMode: r.oneOf('pk.mode', ['record_key'] as const),
        autoCreate: r.oneOf('auto.create', ['true', 'false'] as const) === 'true',
        autoEvolve: r.oneOf('auto.evolve', ['true', 'false'] as const) === 'true',
        deleteEnabled: r.oneOf('delete.enabled', ['true', 'false'] as const) === 'true',
        batchMaxRows: r.int('batch.max.rows', 1, 100_000),
      };
      break;
    }
    case 'http-sink': {
      const common = readCommon(r, name, raw, connectorDlq);
      const subscription = r.string('subscription', SUBSCRIPTION_ID, 'a subscription id (sub-…)');
      const url = r.string('http.url');
      let parsed: URL | null = null;
      try {
        parsed = url ? new URL(url) : null;
      } catch {
        parsed = null;
      }
      if (url && (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))) r.problem('http.url', 'config.http.url must be an http:// or https:// URL');
      else if (parsed && (parsed.username || parsed.password)) r.problem('http.url', 'config.http.url must not carry credentials; use hmac.secret');
      config = {
        ...common,
        connectorClass,
        subscription,
        topics: subscription ? [`govx.share.${subscription}`] : [],
        url,
        hmacSecret: r.optional('hmac.secret'),
        timeoutMs: r.int('http.timeout.ms', 100, 300_000),
        allowPrivate: r.oneOf('http.allow.private', ['false', 'true'] as const) === 'true',
        batchMaxRows: r.int('batch.max.rows', 1, 10_000),
      };
      break;
    }
  }
  problems.push(...r.problems);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config };
}
