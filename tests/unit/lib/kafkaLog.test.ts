import { logLevel } from 'kafkajs';
import { kafkaLogLevel } from '../../../lib/kafka';

describe('kafkajs log levels', () => {
  it('keeps notices nobody can act on out of the info/warn/error streams', () => {
    expect(kafkaLogLevel(logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees')).toBe('debug');
    expect(
      kafkaLogLevel(logLevel.WARN, 'KafkaJS v2.0.0 switched default partitioner. To retain the same partitioning behavior as in previous versions, …'),
    ).toBe('debug');
    // one response of a request kafkajs retries by itself (a coordinator still loading)
    expect(kafkaLogLevel(logLevel.ERROR, 'Response InitProducerId(key: 22, version: 1)')).toBe('debug');
  });

  it('keeps everything else at its own level', () => {
    expect(kafkaLogLevel(logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded')).toBe('error');
    expect(kafkaLogLevel(logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092')).toBe('error');
    expect(kafkaLogLevel(logLevel.WARN, 'Response InitProducerId(key: 22, version: 1) was slow')).toBe('warn');
    expect(kafkaLogLevel(logLevel.INFO, 'Consumer has joined the group')).toBe('info');
  });
});
