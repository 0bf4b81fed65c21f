import { createApiKey, type Role } from '../../catalog/keys';
import { loadConfig, type GovxConfig } from '../../lib/config';
import { createPool, type Pool } from '../../lib/db';
import { createKafka, type KafkaClientOptions } from '../../lib/kafka';
import { createLogger } from '../../lib/logger';
import { startGateway, type RunningGateway } from '../../gateway/server';
import type { Kafka } from 'kafkajs';

/**
 * A real gateway for integration tests: real PostgreSQL (the run's fresh database), the real Kafka broker,
 * the seed catalog applied, listening on a free port.
 */
/**
 * The one place tests get Kafka clients (the broker requires TLS and SASL): govx's own super-user principal
 * by default; `env` overrides configuration (another broker's KAFKA_BROKERS, say).
 */
export function testKafka(env: Record<string, string> = {}, options: KafkaClientOptions = {}): Kafka {
  return createKafka(loadConfig({ ...process.env, ...env }), createLogger('silent', 'govx-test'), 'test', options);
}

/** A client authenticated as a department's principal, as that department's own systems would be. */
export function departmentKafka(username: string, password: string, env: Record<string, string> = {}): Kafka {
  return testKafka(env, { credentials: { username, password } });
}

export interface TestStack {
  gateway: RunningGateway;
  url: string;
  pool: Pool;
  config: GovxConfig;
  kafka: Kafka;
  key: (department: string, role: Role) => Promise<string>;
  close: () => Promise<void>;
}

export async function startTestStack(env: Record<string, string> = {}): Promise<TestStack> {
  const config = loadConfig({ ...process.env, GOVX_PORT: '0', ...env });
  const log = createLogger(process.env.GOVX_LOG_LEVEL ?? 'silent', 'govx-test');
  const gateway = await startGateway(config, log, { seed: true });
  const pool = createPool(config.databaseUrl, { max: 3 });
  const kafka = testKafka(env);
  return {
    gateway,
    url: gateway.url,
    pool,
    config,
    kafka,
    key: async (department, role) => (await createApiKey(pool, { department, role })).key,
    close: async () => {
      await gateway.close();
      await pool.end();
    },
  };
}

export async function httpJson(
  url: string,
  init: { method?: string; key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  let body: string | undefined;
  if (init.rawBody !== undefined) body = init.rawBody;
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export interface ReadMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  partition: number;
  offset: string;
}

export type TopicPosition = Array<{ partition: number; offset: string }>;

/** Where each partition of a topic ends now (empty when the topic does not exist yet): read from here to see only what comes next. */
export async function topicEnd(kafka: Kafka, topic: string): Promise<TopicPosition> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
  } catch {
    return [];
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads a topic with a fresh group until `done` says so (or the timeout): from the beginning, or from
 * `from` (see topicEnd), which keeps tests fast on busy shared topics.
 */
export async function readTopicUntil(
  kafka: Kafka,
  topic: string,
  done: (got: ReadMessage[]) => boolean,
  timeoutMs = 20000,
  from: TopicPosition = [],
): Promise<ReadMessage[]> {
  const groupId = `govx-test-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  if (from.length > 0) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.setOffsets({ groupId, topic, partitions: from });
    } finally {
      await admin.disconnect();
    }
  }
  const consumer = kafka.consumer({ groupId });
  const got: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gave up after ${got.length} messages on ${topic}`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          got.push({ key: message.key, value: message.value, headers, partition, offset: message.offset });
          if (done(got)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}
