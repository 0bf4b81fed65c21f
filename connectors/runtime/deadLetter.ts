import type { KafkaHeaders, OutgoingMessage } from '../../lib/kafkaPort';
import type { KafkaExchange } from '../../lib/kafkaExchange';

/** Header values are bounded so one verbose error cannot make the dead-letter record too large to produce. */
const MAX_HEADER_CHARS = 2000;
const clip = (s: string): string => (s.length > MAX_HEADER_CHARS ? `${s.slice(0, MAX_HEADER_CHARS - 1)}…` : s);

export interface SinkDeadLetter {
  key: Buffer | null;
  value: Buffer | null;
  headers: KafkaHeaders | undefined;
  topic: string;
  partition: number;
  offset: string;
  errorClass: string;
  errorMessage: string;
}

/** A record a sink can never write, unchanged, with where it came from and why it failed (Kafka Connect's DLQ headers, govx names). */
export function sinkDeadLetterMessage(connector: string, d: SinkDeadLetter): OutgoingMessage {
  return {
    key: d.key,
    value: d.value,
    headers: {
      ...(d.headers ?? {}),
      'govx-connector': connector,
      'govx-topic': d.topic,
      'govx-partition': String(d.partition),
      'govx-offset': d.offset,
      'govx-error-class': d.errorClass,
      'govx-error-message': clip(d.errorMessage),
    },
  };
}

export interface SourceDeadLetter {
  dataset: string;
  /** where the record came from: table and position, or file and record number */
  origin: string;
  key: string | null;
  /** the record as read from the source, natural JSON, or the raw text when it was not JSON */
  record: unknown;
  errorClass: string;
  errorMessage: string;
}

/** A source record the governed publish path rejected: the record as JSON with the reasons. */
export function sourceDeadLetterMessage(connector: string, d: SourceDeadLetter): OutgoingMessage {
  const value = typeof d.record === 'string' ? d.record : JSON.stringify(d.record ?? null);
  return {
    key: d.key,
    value: Buffer.from(value, 'utf8'),
    headers: {
      'govx-connector': connector,
      'govx-dataset': d.dataset,
      'govx-source': clip(d.origin),
      'govx-error-class': d.errorClass,
      'govx-error-message': clip(d.errorMessage),
    },
  };
}

export async function sendDeadLetters(exchange: KafkaExchange, topic: string, messages: OutgoingMessage[]): Promise<void> {
  if (messages.length) await exchange.produce(topic, messages);
}
