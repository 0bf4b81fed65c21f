/**
 * What every connector config shares, in Kafka Connect's shape: `{"name", "config": {"connector.class", …}}`
 * with the JDBC connectors' key names. Values are strings as in Kafka Connect (numbers and booleans are
 * accepted and kept as strings). Every problem is reported at once, each naming its key. Each connector
 * class reads its own keys beside its code (`connectors/<class>/config.ts`); `plugins.ts` puts them together.
 */

export type ConnectorKind = 'source' | 'sink';

export const CONNECTOR_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$/;
export const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
export const DATASET_ID = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;
export const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;
export const SUBSCRIPTION_ID = /^sub-[a-z0-9]{20}$/;
/** Topics a department's connector may dead-letter into besides its dataset's own DLQ topic. */
const CONNECT_DLQ_PREFIX = 'govx.dlq.connect.';

/** A sink's dead-letter topic unless it names another. */
export const connectorDeadLetterTopic = (name: string): string => `${CONNECT_DLQ_PREFIX}${name}`;

export type RawConfig = Record<string, string>;

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

/** What the source runtime reads of a source's config. */
export interface SourceCommonConfig extends CommonConfig {
  dataset: string;
  pollIntervalMs: number;
  batchMaxRows: number;
}

/** What the sink runtime reads of a sink's config. */
export interface SinkCommonConfig extends CommonConfig {
  /** for a subscription sink, derived: the subscription's share topic */
  topics: string[];
  batchMaxRows: number;
}

/** What a sink of one subscription's share topic (delivering to the consuming department) has besides. */
export interface SubscriptionSinkConfig extends SinkCommonConfig {
  subscription: string;
}

export interface ValidationContext {
  /** Every file a connector reads or writes must lie under this directory (the department's own, under the file root). */
  fileRoot: string;
}

export interface KeySpec {
  doc: string;
  required?: boolean;
  default?: string;
}

/** Keys every class accepts besides `connector.class`. */
export const commonKeys: Record<string, KeySpec> = {
  name: { doc: 'the connector name (optional; must equal the top-level name)' },
  'tasks.max': { doc: 'accepted for familiarity; a source runs one task, a sink one consumer per worker', default: '1' },
  'errors.tolerance': { doc: '`none` fails the connector on a bad record; `all` sends it to the dead-letter topic', default: 'none' },
  'errors.deadletterqueue.topic.name': { doc: 'dead-letter topic (with errors.tolerance=all)' },
  'errors.retry.timeout': { doc: 'how long to retry a transient fault before failing, ms (-1: forever)', default: '300000' },
  'errors.retry.delay.max.ms': { doc: 'longest wait between retries, ms', default: '60000' },
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

/** Reads one class's keys from a submitted config, collecting every problem instead of stopping at the first. */
export class ConfigReader {
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

/** `subscription`, and the share topic it derives. */
export function readSubscription(r: ConfigReader): { subscription: string; topics: string[] } {
  const subscription = r.string('subscription', SUBSCRIPTION_ID, 'a subscription id (sub-…)');
  return { subscription, topics: subscription ? [`govx.share.${subscription}`] : [] };
}

export function readCommonConfig(r: ConfigReader, name: string, raw: RawConfig, defaultDeadLetterTopic: string): CommonConfig {
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
