import fs from 'node:fs';
import path from 'node:path';
import { projectPath, projectRoot } from './paths';

/**
 * Configuration is read once from the environment into a typed, frozen object. Every problem is
 * collected and reported together, so an operator fixes a bad deployment in one pass.
 * `docker-compose.yml` uses exactly these variable names (checked by a test).
 */
export interface GovxConfig {
  readonly host: string;
  readonly port: number;
  readonly metricsHost: string;
  readonly metricsPort: number;
  readonly databaseUrl: string;
  readonly kafkaBrokers: readonly string[];
  readonly kafkaClientId: string;
  readonly kafkaSaslMechanism: KafkaSaslMechanism;
  readonly kafkaUsername: string;
  /** Set from GOVX_KAFKA_PASSWORD; otherwise createKafka reads kafkaPasswordFile. */
  readonly kafkaPassword: string | undefined;
  readonly kafkaPasswordFile: string;
  readonly kafkaCaFile: string;
  readonly kafkaCertFile: string | undefined;
  readonly kafkaKeyFile: string | undefined;
  /** Bootstrap servers departments are told to connect to (with their credentials). */
  readonly kafkaDepartmentBrokers: readonly string[];
  /** The Kafka jars govx's Java credential tool runs against, and where that tool is compiled. */
  readonly kafkaLibsDir: string;
  readonly kafkaToolsDir: string;
  /** How often every gateway reconciles department ACLs with the catalog (0: never, not even at start-up). */
  readonly kafkaAclReconcileMs: number;
  readonly topicPartitions: number;
  readonly topicReplicationFactor: number;
  readonly kafkaRequestTimeoutMs: number;
  readonly logLevel: string;
  readonly logFormat: 'auto' | 'json' | 'pretty';
  readonly maxBodyBytes: number;
  readonly maxRecordsPerRequest: number;
  readonly largeBodyBytes: number;
  readonly largeBodyBudgetBytes: number;
  readonly largeBodyQueue: number;
  readonly largeBodyWaitMs: number;
  readonly heapGrowingPercent: number;
  readonly shutdownTimeoutMs: number;
  readonly distributor: boolean;
  readonly distributorGroupPrefix: string;
  readonly maxJsonDepth: number;
  readonly maxStringLength: number;
  readonly idempotencyTtlSeconds: number;
  readonly produceLingerMs: number;
  readonly produceBatchBytes: number;
  readonly rateLimitRecordsPerSec: number;
  readonly rateLimitRequestsPerSec: number;
  readonly rateLimitKeyRequestsPerSec: number;
  readonly denialAuditIntervalSec: number;
  readonly maxStreamsPerDepartment: number;
  readonly maxPullsPerDepartment: number;
  readonly connectWorker: boolean;
  readonly connectPollMs: number;
  readonly connectFileRoot: string;
  readonly monitorIntervalMs: number;
  readonly workdayCalendarFile: string | null;
  readonly replyDeadlineWorkingDays: number;
  readonly replyReminderWorkingDays: number;
  readonly anomalyBaselineDays: number;
  readonly anomalyVolumeFactor: number;
  readonly anomalyMinRecords: number;
  readonly anomalyBulkRecords: number;
  readonly keysDir: string;
  readonly masterKey: string | undefined;
  readonly receiptReconcileIntervalMs: number;
  readonly receiptGraceMs: number;
  readonly auditCheckpointIntervalMs: number;
  readonly auditCheckpointFile: string | null;
  readonly auditCheckpointTopic: string;
  readonly publicUrl: string | undefined;
  readonly oidcIssuer: string | undefined;
  readonly oidcClientId: string | undefined;
  readonly oidcClientSecret: string | undefined;
  readonly oidcScopes: string;
  readonly oidcDepartmentClaim: string;
  readonly oidcRoleClaim: string;
  readonly oidcDepartmentMap: Readonly<Record<string, string>>;
  readonly oidcRoleMap: Readonly<Record<string, string>>;
  readonly sessionTtlMinutes: number;
  readonly sessionIdleMinutes: number;
  readonly consoleKeySignIn: boolean;
}

export type KafkaSaslMechanism = 'scram-sha-512' | 'scram-sha-256' | 'plain';

type Parser<T> = (raw: string) => T;

interface Setting<T> {
  readonly env: string;
  readonly description: string;
  /** A function when the default depends on the environment (the development cache directory). */
  readonly default: string | ((env: NodeJS.ProcessEnv) => string);
  readonly parse: Parser<T>;
}

/** Where scripts/services.sh generates the development CA and govx's broker password. */
const devSecurityFile = (name: string) => (env: NodeJS.ProcessEnv): string =>
  path.join(env.GOVX_CACHE_DIR ? path.resolve(env.GOVX_CACHE_DIR) : projectPath('.cache'), 'kafka', 'security', name);

/** The pinned Kafka version (scripts/kafka/pom.xml), whose jars services:up resolves into the cache. */
function kafkaVersion(): string {
  const pom = fs.readFileSync(projectPath('scripts', 'kafka', 'pom.xml'), 'utf8');
  return /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1] ?? 'unknown';
}

const devKafkaDir = (name: string) => (env: NodeJS.ProcessEnv): string =>
  path.join(env.GOVX_CACHE_DIR ? path.resolve(env.GOVX_CACHE_DIR) : projectPath('.cache'), 'kafka', kafkaVersion(), name);

const integer = (min: number, max: number): Parser<number> => (raw) => {
  if (!/^\d+$/.test(raw.trim())) throw new Error(`must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`);
  return n;
};

const text: Parser<string> = (raw) => {
  if (raw.trim() === '') throw new Error('must not be empty');
  return raw.trim();
};

const optionalPath: Parser<string | null> = (raw) => (raw.trim() === '' ? null : raw.trim());

const decimal = (min: number, max: number): Parser<number> => (raw) => {
  if (!/^\d+(\.\d+)?$/.test(raw.trim())) throw new Error(`must be a number such as 3 or 2.5, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`);
  return n;
};

const oneOf = (...allowed: string[]): Parser<string> => (raw) => {
  if (!allowed.includes(raw)) throw new Error(`must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw;
};

const optionalText: Parser<string | undefined> = (raw) => (raw.trim() === '' ? undefined : raw.trim());

/** A file an operator named must be readable now, so a wrong path is reported with every other problem. */
const readableFile: Parser<string> = (raw) => {
  const file = text(raw);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    throw new Error(`names a file that cannot be read: ${file}`);
  }
  return file;
};

const optionalReadableFile: Parser<string | undefined> = (raw) => (raw.trim() === '' ? undefined : readableFile(raw));

const flag: Parser<boolean> = (raw) => {
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new Error(`must be true or false, got "${raw}"`);
};

const postgresUrl: Parser<string> = (raw) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('must be a URL such as postgres://user@host:5432/db');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error('must use the postgres:// scheme');
  if (url.pathname.length <= 1) throw new Error('must name a database');
  return raw;
};

const httpUrl = (raw: string): string => {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Error(`must be a URL such as https://sso.example.gov.cn/realms/city, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must be an http:// or https:// URL');
  return raw.trim();
};

/** `a=b,c=d` → {a: 'b', c: 'd'}. */
const claimMap: Parser<Record<string, string>> = (raw) => {
  const map: Record<string, string> = {};
  for (const pair of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = pair.lastIndexOf('=');
    if (eq <= 0 || eq === pair.length - 1) throw new Error(`"${pair}" is not value=target`);
    map[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return Object.freeze(map);
};

const brokerList: Parser<string[]> = (raw) => {
  const brokers = raw.split(',').map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) throw new Error('must list at least one host:port');
  for (const b of brokers) {
    if (!/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(b)) throw new Error(`"${b}" is not host:port`);
  }
  return brokers;
};

const byteSize: Parser<number> = (raw) => {
  const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(raw.trim());
  if (!m) throw new Error(`must be a size such as 10mb, got "${raw}"`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const n = Number(m[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
  if (n < 1024 || n > 512 * 1024 * 1024) throw new Error('must be between 1kb and 512mb');
  return n;
};

export const settings = {
  host: { env: 'GOVX_HOST', description: 'address the gateway listens on', default: '127.0.0.1', parse: text },
  port: { env: 'GOVX_PORT', description: 'port the gateway listens on', default: '8080', parse: integer(0, 65535) },
  metricsHost: {
    env: 'GOVX_METRICS_HOST',
    description: 'address the Prometheus /metrics listener binds (loopback: only this host scrapes it)',
    default: '127.0.0.1',
    parse: text,
  },
  metricsPort: {
    env: 'GOVX_METRICS_PORT',
    description: 'port of the Prometheus /metrics listener, apart from the API (0: any free port)',
    default: '9464',
    parse: integer(0, 65535),
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    description: 'PostgreSQL connection string; the database is created if missing',
    default: 'postgres://postgres@127.0.0.1:5432/govx',
    parse: postgresUrl,
  },
  kafkaBrokers: { env: 'KAFKA_BROKERS', description: 'comma-separated Kafka bootstrap servers', default: '127.0.0.1:9092', parse: brokerList },
  kafkaClientId: { env: 'KAFKA_CLIENT_ID', description: 'Kafka client id prefix', default: 'govx', parse: text },
  kafkaSaslMechanism: {
    env: 'GOVX_KAFKA_SASL_MECHANISM',
    description: 'SASL mechanism govx authenticates to the broker with (over TLS)',
    default: 'scram-sha-512',
    parse: oneOf('scram-sha-512', 'scram-sha-256', 'plain') as Parser<KafkaSaslMechanism>,
  },
  kafkaUsername: { env: 'GOVX_KAFKA_USERNAME', description: "govx's own Kafka principal (the broker's super user)", default: 'govx', parse: text },
  kafkaPassword: {
    env: 'GOVX_KAFKA_PASSWORD',
    description: "govx's Kafka password (prefer GOVX_KAFKA_PASSWORD_FILE)",
    default: '',
    parse: optionalText,
  },
  kafkaPasswordFile: {
    env: 'GOVX_KAFKA_PASSWORD_FILE',
    description: "file holding govx's Kafka password (default: the one services:up generated)",
    default: devSecurityFile('govx.password'),
    parse: text,
  },
  kafkaCaFile: {
    env: 'GOVX_KAFKA_CA_FILE',
    description: "PEM file of the CA(s) that signed the broker's certificate (default: the development CA services:up generated)",
    default: devSecurityFile('ca.pem'),
    parse: text,
  },
  kafkaCertFile: {
    env: 'GOVX_KAFKA_CERT_FILE',
    description: 'PEM client certificate, for a broker that asks for one (with GOVX_KAFKA_KEY_FILE)',
    default: '',
    parse: optionalReadableFile,
  },
  kafkaKeyFile: {
    env: 'GOVX_KAFKA_KEY_FILE',
    description: 'PEM private key of GOVX_KAFKA_CERT_FILE',
    default: '',
    parse: optionalReadableFile,
  },
  kafkaDepartmentBrokers: {
    env: 'GOVX_KAFKA_DEPARTMENT_BROKERS',
    description: 'bootstrap servers departments connect to, shown with their Kafka credentials (default: KAFKA_BROKERS)',
    default: '',
    parse: (raw) => (raw.trim() === '' ? [] : brokerList(raw)),
  },
  kafkaLibsDir: {
    env: 'GOVX_KAFKA_LIBS_DIR',
    description: "directory of the Apache Kafka jars govx's credential tool runs against (default: the ones services:up resolved)",
    default: devKafkaDir('libs'),
    parse: (raw) => path.resolve(projectRoot, text(raw)),
  },
  kafkaToolsDir: {
    env: 'GOVX_KAFKA_TOOLS_DIR',
    description: "directory of govx's compiled Kafka tools (compiled there on first use when missing; scripts/kafka/build-tools.sh)",
    default: devKafkaDir('govx-tools'),
    parse: (raw) => path.resolve(projectRoot, text(raw)),
  },
  kafkaAclReconcileMs: {
    env: 'GOVX_KAFKA_ACL_RECONCILE_MS',
    description: "how often each gateway reconciles the departments' Kafka ACLs with the catalog, repairing drift (0: never, not even at start-up)",
    default: '60000',
    parse: integer(0, 86_400_000),
  },
  topicPartitions: { env: 'GOVX_TOPIC_PARTITIONS', description: 'partitions of topics govx creates', default: '3', parse: integer(1, 1000) },
  topicReplicationFactor: {
    env: 'GOVX_TOPIC_REPLICATION_FACTOR',
    description: 'replication factor of topics govx creates',
    default: '1',
    parse: integer(1, 10),
  },
  kafkaRequestTimeoutMs: {
    env: 'GOVX_KAFKA_TIMEOUT_MS',
    description: 'how long a publish waits for Kafka before answering 503',
    default: '10000',
    parse: integer(100, 300000),
  },
  logLevel: {
    env: 'GOVX_LOG_LEVEL',
    description: 'pino log level',
    default: 'info',
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  },
  logFormat: {
    env: 'GOVX_LOG_FORMAT',
    description: 'log lines as JSON, pretty for people, or auto (pretty when stdout is a terminal)',
    default: 'auto',
    parse: oneOf('auto', 'json', 'pretty'),
  },
  maxBodyBytes: { env: 'GOVX_MAX_BODY_BYTES', description: 'largest request body accepted', default: '16mb', parse: byteSize },
  maxRecordsPerRequest: {
    env: 'GOVX_MAX_RECORDS_PER_REQUEST',
    description: 'most records in one publish request',
    default: '10000',
    parse: integer(1, 1000000),
  },
  largeBodyBytes: {
    env: 'GOVX_LARGE_BODY_BYTES',
    description: 'publish bodies at least this large (by Content-Length; unknown: the largest allowed) share the budget of GOVX_LARGE_BODY_BUDGET_BYTES',
    default: '1mb',
    parse: byteSize,
  },
  largeBodyBudgetBytes: {
    env: 'GOVX_LARGE_BODY_BUDGET_BYTES',
    description: 'bytes of large publish bodies one gateway process reads and works on at once (a larger body runs alone)',
    default: '32mb',
    parse: byteSize,
  },
  largeBodyQueue: {
    env: 'GOVX_LARGE_BODY_QUEUE',
    description: 'large publish requests that may wait for the budget in one process (429 publish.busy beyond)',
    default: '16',
    parse: integer(0, 10000),
  },
  largeBodyWaitMs: {
    env: 'GOVX_LARGE_BODY_WAIT_MS',
    description: 'how long a large publish request may wait for the budget (429 publish.busy after)',
    default: '10000',
    parse: integer(0, 600000),
  },
  heapGrowingPercent: {
    env: 'GOVX_HEAP_GROWING_PERCENT',
    description: 'how far (percent) V8 lets the heap of `govx serve` grow past what is live before a full collection (0: V8\'s own policy, up to 4×)',
    default: '20',
    parse: integer(0, 1000),
  },
  shutdownTimeoutMs: {
    env: 'GOVX_SHUTDOWN_TIMEOUT_MS',
    description: 'how long a graceful shutdown may take',
    default: '15000',
    parse: integer(100, 600000),
  },
  distributor: {
    env: 'GOVX_DISTRIBUTOR',
    description: 'whether this process also runs the share distributor',
    default: 'true',
    parse: flag,
  },
  distributorGroupPrefix: {
    env: 'GOVX_DISTRIBUTOR_GROUP',
    description: 'prefix of the distributor consumer groups (one per dataset); every gateway of one installation uses the same',
    default: 'govx-distributor',
    parse: text,
  },
  maxJsonDepth: {
    env: 'GOVX_MAX_JSON_DEPTH',
    description: 'deepest nesting of objects and arrays in a JSON request body (400 request.too_deep beyond)',
    default: '32',
    parse: integer(2, 1000),
  },
  maxStringLength: {
    env: 'GOVX_MAX_STRING_LENGTH',
    description: 'longest string value in a published record, in characters (a per-record error beyond)',
    default: '65536',
    parse: integer(1, 16 * 1024 * 1024),
  },
  idempotencyTtlSeconds: {
    env: 'GOVX_IDEMPOTENCY_TTL_SECONDS',
    description: 'how long an Idempotency-Key of a publish request is remembered',
    default: '86400',
    parse: integer(60, 30 * 86400),
  },
  produceLingerMs: {
    env: 'GOVX_PRODUCE_LINGER_MS',
    description: 'how long concurrent publishes to one topic are collected into one produce request',
    default: '2',
    parse: integer(0, 1000),
  },
  produceBatchBytes: {
    env: 'GOVX_PRODUCE_BATCH_BYTES',
    description: 'largest produce request the gateway sends (stay below the broker\'s message.max.bytes)',
    default: '900kb',
    parse: byteSize,
  },
  rateLimitRecordsPerSec: {
    env: 'GOVX_RATE_LIMIT_RECORDS_PER_SEC',
    description: 'records per second each department may publish through one gateway process (0: no limit)',
    default: '50000',
    parse: integer(0, 100_000_000),
  },
  rateLimitRequestsPerSec: {
    env: 'GOVX_RATE_LIMIT_REQUESTS_PER_SEC',
    description: 'publish requests per second each department may send to one gateway process (0: no limit)',
    default: '200',
    parse: integer(0, 1_000_000),
  },
  rateLimitKeyRequestsPerSec: {
    env: 'GOVX_RATE_LIMIT_KEY_REQUESTS_PER_SEC',
    description: 'requests per second each API key may send to all gateways together, denied ones included (0: no limit)',
    default: '100',
    parse: integer(0, 1_000_000),
  },
  denialAuditIntervalSec: {
    env: 'GOVX_DENIAL_AUDIT_INTERVAL_SEC',
    description: 'denied requests are audited as one entry per key per interval of this many seconds, with their count',
    default: '60',
    parse: integer(1, 86400),
  },
  maxStreamsPerDepartment: {
    env: 'GOVX_MAX_STREAMS_PER_DEPARTMENT',
    description: 'open Server-Sent Event streams a department may hold across all gateways (429 beyond)',
    default: '10',
    parse: integer(1, 100_000),
  },
  maxPullsPerDepartment: {
    env: 'GOVX_MAX_PULLS_PER_DEPARTMENT',
    description: 'HTTP pulls a department may have running at once across all gateways (429 beyond)',
    default: '10',
    parse: integer(1, 100_000),
  },
  connectWorker: {
    env: 'GOVX_CONNECT_WORKER',
    description: 'whether `govx serve` / `npm start` also runs a connect worker in-process',
    default: 'true',
    parse: flag,
  },
  connectPollMs: {
    env: 'GOVX_CONNECT_POLL_MS',
    description: 'how often a connect worker re-reads the connector definitions (pause, resume, delete take effect)',
    default: '1000',
    parse: integer(50, 60000),
  },
  connectFileRoot: {
    env: 'GOVX_CONNECT_FILE_ROOT',
    description: 'directory that file connectors read and write under (nothing outside it)',
    default: 'connect-files',
    parse: text,
  },
  monitorIntervalMs: {
    env: 'GOVX_MONITOR_INTERVAL_MS',
    description: 'how often the gateway checks dataset freshness, reply deadlines and access volumes (0: never)',
    default: '60000',
    parse: integer(0, 86_400_000),
  },
  workdayCalendarFile: {
    env: 'GOVX_WORKDAY_CALENDAR_FILE',
    description: 'a YAML file of holidays and adjusted working days added to the official calendars in reports/calendars',
    default: '',
    parse: optionalPath,
  },
  replyDeadlineWorkingDays: {
    env: 'GOVX_REPLY_DEADLINE_WORKING_DAYS',
    description: 'working days an owner has to decide on a conditional request',
    default: '10',
    parse: integer(1, 250),
  },
  replyReminderWorkingDays: {
    env: 'GOVX_REPLY_REMINDER_WORKING_DAYS',
    description: 'working days before a reply deadline that the owner is reminded (0: on the last day)',
    default: '2',
    parse: integer(0, 250),
  },
  anomalyBaselineDays: {
    env: 'GOVX_ANOMALY_BASELINE_DAYS',
    description: "days of a subscription's own deliveries that form the baseline its daily volume is compared with",
    default: '7',
    parse: integer(1, 90),
  },
  anomalyVolumeFactor: {
    env: 'GOVX_ANOMALY_VOLUME_FACTOR',
    description: "a day's deliveries above this many times the baseline's daily average are unusual",
    default: '3',
    parse: decimal(1, 1000),
  },
  anomalyMinRecords: {
    env: 'GOVX_ANOMALY_MIN_RECORDS',
    description: 'records a day must exceed before it can be unusual at all (quiet subscriptions stay quiet)',
    default: '1000',
    parse: integer(0, 1_000_000_000),
  },
  anomalyBulkRecords: {
    env: 'GOVX_ANOMALY_BULK_RECORDS',
    description: "records in one day that make a subscription's first bulk export",
    default: '10000',
    parse: integer(1, 1_000_000_000),
  },
  receiptReconcileIntervalMs: {
    env: 'GOVX_RECEIPT_RECONCILE_INTERVAL_MS',
    description: 'how often the gateway looks for records in dataset and share topics that no receipt covers (it also does at start-up)',
    default: '60000',
    parse: integer(1000, 86_400_000),
  },
  receiptGraceMs: {
    env: 'GOVX_RECEIPT_GRACE_MS',
    description: 'how old an uncovered record must be before the reconciler writes its receipt (its writer may still be about to)',
    default: '30000',
    parse: integer(0, 86_400_000),
  },
  auditCheckpointIntervalMs: {
    env: 'GOVX_AUDIT_CHECKPOINT_INTERVAL_MS',
    description: 'how often the gateway signs the audit chain head and writes it to govx.audit.checkpoints (0: only on demand)',
    default: '300000',
    parse: integer(0, 86_400_000),
  },
  auditCheckpointTopic: {
    env: 'GOVX_AUDIT_CHECKPOINT_TOPIC',
    description: 'the Kafka topic govx writes signed audit checkpoints to (created by govx; only govx may write it)',
    default: 'govx.audit.checkpoints',
    parse: (raw) => {
      if (!/^[A-Za-z0-9._-]{1,249}$/.test(raw.trim())) throw new Error(`must be a Kafka topic name, got "${raw}"`);
      return raw.trim();
    },
  },
  auditCheckpointFile: {
    env: 'GOVX_AUDIT_CHECKPOINT_FILE',
    description: 'a file to which every signed audit checkpoint is also appended, one JSON line each (empty: Kafka only)',
    default: '',
    parse: (raw) => (raw.trim() === '' ? null : path.resolve(projectRoot, raw.trim())),
  },
  keysDir: {
    env: 'GOVX_KEYS_DIR',
    description: 'directory of the key files kept outside the database (master.key, audit-signing.pem); created with fresh keys when missing',
    default: '.cache/keys',
    parse: (raw) => path.resolve(projectRoot, text(raw)),
  },
  masterKey: {
    env: 'GOVX_MASTER_KEY',
    description: 'the 32-byte master key, base64 (takes precedence over GOVX_KEYS_DIR/master.key; empty: use the file)',
    default: '',
    parse: (raw) => {
      if (raw.trim() === '') return undefined;
      if (Buffer.from(raw.trim(), 'base64').length !== 32) throw new Error('must be 32 bytes in base64');
      return raw.trim();
    },
  },
  publicUrl: {
    env: 'GOVX_PUBLIC_URL',
    description: 'the URL browsers reach this gateway at (https://… behind a proxy): OpenID Connect redirects and Secure cookies follow it; empty: the address of each request',
    default: '',
    parse: (raw) => (raw.trim() === '' ? undefined : httpUrl(raw).replace(/\/+$/, '')),
  },
  oidcIssuer: {
    env: 'GOVX_OIDC_ISSUER',
    description: "the OpenID provider's issuer URL for console single sign-on (empty: no single sign-on)",
    default: '',
    parse: (raw) => (raw.trim() === '' ? undefined : httpUrl(raw)),
  },
  oidcClientId: { env: 'GOVX_OIDC_CLIENT_ID', description: "govx's client id at the OpenID provider", default: '', parse: optionalText },
  oidcClientSecret: {
    env: 'GOVX_OIDC_CLIENT_SECRET',
    description: "govx's client secret at the OpenID provider (empty: a public client, PKCE only)",
    default: '',
    parse: optionalText,
  },
  oidcScopes: { env: 'GOVX_OIDC_SCOPES', description: 'scopes asked for at sign-in', default: 'openid profile email', parse: text },
  oidcDepartmentClaim: {
    env: 'GOVX_OIDC_DEPARTMENT_CLAIM',
    description: "the ID-token/userinfo claim naming the user's department",
    default: 'govx_department',
    parse: text,
  },
  oidcRoleClaim: {
    env: 'GOVX_OIDC_ROLE_CLAIM',
    description: "the claim naming the user's govx role (a string, or a list such as groups: the first that maps wins)",
    default: 'govx_role',
    parse: text,
  },
  oidcDepartmentMap: {
    env: 'GOVX_OIDC_DEPARTMENT_MAP',
    description: 'claim value=department id pairs, comma-separated, for providers whose values are not govx ids (unmapped values are used as they are)',
    default: '',
    parse: claimMap,
  },
  oidcRoleMap: {
    env: 'GOVX_OIDC_ROLE_MAP',
    description: 'claim value=role pairs, comma-separated (e.g. data-stewards=steward); unmapped values must be a govx role',
    default: '',
    parse: claimMap,
  },
  sessionTtlMinutes: { env: 'GOVX_SESSION_TTL_MINUTES', description: 'how long a console session lasts at most', default: '480', parse: integer(1, 43_200) },
  sessionIdleMinutes: {
    env: 'GOVX_SESSION_IDLE_MINUTES',
    description: 'a console session unused this long ends',
    default: '60',
    parse: integer(1, 43_200),
  },
  consoleKeySignIn: {
    env: 'GOVX_CONSOLE_KEY_SIGNIN',
    description: 'whether the console offers sign-in with an API key (for development; turn off where single sign-on is the rule)',
    default: 'true',
    parse: flag,
  },
} satisfies { [K in keyof GovxConfig]: Setting<unknown> };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const settingDefault = (setting: Setting<unknown>, env: NodeJS.ProcessEnv): string =>
  typeof setting.default === 'function' ? setting.default(env) : setting.default;

/** Rules that span several settings; each returns a problem or nothing. */
function crossSettingProblems(env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const set = (name: string): boolean => (env[name] ?? '').trim() !== '';
  if (set('GOVX_KAFKA_PASSWORD') && set('GOVX_KAFKA_PASSWORD_FILE')) {
    problems.push('GOVX_KAFKA_PASSWORD and GOVX_KAFKA_PASSWORD_FILE are both set: give one');
  }
  if (set('GOVX_KAFKA_CERT_FILE') !== set('GOVX_KAFKA_KEY_FILE')) {
    problems.push('GOVX_KAFKA_CERT_FILE and GOVX_KAFKA_KEY_FILE go together: give both or neither');
  }
  // An operator's own CA or password file must exist now; the development defaults appear with services:up.
  for (const name of ['GOVX_KAFKA_CA_FILE', 'GOVX_KAFKA_PASSWORD_FILE']) {
    if (!set(name)) continue;
    try {
      readableFile(env[name]!);
    } catch (err) {
      problems.push(`${name} ${(err as Error).message}`);
    }
  }
  if (set('GOVX_OIDC_ISSUER') && !set('GOVX_OIDC_CLIENT_ID')) problems.push('GOVX_OIDC_ISSUER is set without GOVX_OIDC_CLIENT_ID: give both');
  return problems;
}

/** Parses every setting; throws one ConfigError listing all problems. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GovxConfig {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(settings) as [string, Setting<unknown>][]) {
    const raw = env[setting.env] ?? settingDefault(setting, env);
    try {
      out[key] = setting.parse(raw);
    } catch (err) {
      problems.push(`${setting.env} ${(err as Error).message}`);
    }
  }
  problems.push(...crossSettingProblems(env));
  if (problems.length > 0) throw new ConfigError(problems);
  if ((out.kafkaDepartmentBrokers as string[]).length === 0) out.kafkaDepartmentBrokers = out.kafkaBrokers;
  return Object.freeze(out) as unknown as GovxConfig;
}

export const configEnvNames: readonly string[] = Object.values(settings).map((s) => s.env);
