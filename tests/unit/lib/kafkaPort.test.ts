import { Partitioners } from 'kafkajs';
import { GovxError, InputError } from '../../../lib/errors';
import { keyPartition, murmur2, readKafkaForAnswer } from '../../../lib/kafkaPort';
import { SeededRandom } from '../../../schemas/samples';

/** kafkajs's default partitioner, which the producer would use: the partitions govx computes must be its. */
function kafkajsPartition(key: Buffer | string, partitionCount: number): number {
  const partitionMetadata = Array.from({ length: partitionCount }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  return Partitioners.DefaultPartitioner()({ topic: 't', partitionMetadata, message: { key, value: null } });
}

describe('keyPartition', () => {
  it('hashes like the Java client (known murmur2 values)', () => {
    // org.apache.kafka.common.utils.Utils.murmur2 of these UTF-8 strings
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from(''))).toBe(275646681);
  });

  it('places every key where kafkajs places it: ASCII, other UTF-8, buffers, any length and partition count', () => {
    const random = new SeededRandom(17);
    const alphabet = 'abcXYZ0123456789-_.长城户籍é'.split('');
    for (let n = 0; n < 3000; n++) {
      let key = '';
      const length = Math.floor(random.next() * 40);
      for (let i = 0; i < length; i++) key += alphabet[Math.floor(random.next() * alphabet.length)];
      const partitions = 1 + Math.floor(random.next() * 12);
      expect([key, keyPartition(key, partitions)]).toEqual([key, kafkajsPartition(key, partitions)]);
      expect(keyPartition(Buffer.from(key), partitions)).toBe(kafkajsPartition(Buffer.from(key), partitions));
    }
    const long = 'x'.repeat(1000);
    expect(keyPartition(long, 7)).toBe(kafkajsPartition(long, 7));
  });
});

describe('readKafkaForAnswer', () => {
  it('answers what the read gives', async () => {
    await expect(readKafkaForAnswer('x', 1000, async () => 42)).resolves.toBe(42);
  });

  it('turns a Kafka client error into 503 kafka.unavailable with Retry-After', async () => {
    const err = await readKafkaForAnswer('reading offsets', 1000, async () => {
      throw new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1');
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GovxError);
    expect(err).toMatchObject({ status: 503, code: 'kafka.unavailable', headers: { 'Retry-After': '5' } });
    expect((err as Error).message).toContain('reading offsets');
  });

  it('turns no answer by the deadline into 503 kafka.unavailable', async () => {
    const err = await readKafkaForAnswer('reading dead letters', 20, () => new Promise(() => undefined)).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: 'kafka.unavailable' });
  });

  it("passes govx's own errors through", async () => {
    const err = await readKafkaForAnswer('x', 1000, async () => {
      throw new InputError('dead_letters.invalid_cursor', 'bad');
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'dead_letters.invalid_cursor' });
  });
});
