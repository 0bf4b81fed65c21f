import { type ConfigReader, connectorDeadLetterTopic, type KeySpec, type RawConfig, readCommonConfig, readSubscription, type SubscriptionSinkConfig } from '../config';

export interface HttpSinkConfig extends SubscriptionSinkConfig {
  connectorClass: 'http-sink';
  url: string;
  hmacSecret: string | null;
  timeoutMs: number;
}

export const httpSinkKeys: Record<string, KeySpec> = {
  subscription: { doc: 'the subscription whose share topic is delivered (sub-…)', required: true },
  'http.url': { doc: "the consumer's webhook: http(s)://host/path", required: true },
  'hmac.secret': { doc: 'shared secret for the X-Govx-Signature header; never returned' },
  'http.timeout.ms': { doc: 'how long one POST may take', default: '10000' },
  'batch.max.rows': { doc: 'records per POST', default: '100' },
  'http.allow.private': { doc: "refused: loopback and private targets need an administrator's allowance for the department" },
};

export function validateHttpSinkConfig(r: ConfigReader, name: string, raw: RawConfig): HttpSinkConfig {
  if (raw['http.allow.private'] !== undefined) {
    r.problem(
      'http.allow.private',
      'config.http.allow.private is no longer a connector setting: loopback and private webhook targets need an administrator\'s allowance (PUT /v1/departments/{id}/connector-targets)',
    );
  }
  const common = readCommonConfig(r, name, raw, connectorDeadLetterTopic(name));
  const { subscription, topics } = readSubscription(r);
  const url = r.string('http.url');
  let parsed: URL | null = null;
  try {
    parsed = url ? new URL(url) : null;
  } catch {
    parsed = null;
  }
  if (url && (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))) r.problem('http.url', 'config.http.url must be an http:// or https:// URL');
  else if (parsed && (parsed.username || parsed.password)) r.problem('http.url', 'config.http.url must not carry credentials; use hmac.secret');
  return {
    ...common,
    connectorClass: 'http-sink',
    subscription,
    topics,
    url,
    hmacSecret: r.optional('hmac.secret'),
    timeoutMs: r.int('http.timeout.ms', 100, 300_000),
    batchMaxRows: r.int('batch.max.rows', 1, 10_000),
  };
}
