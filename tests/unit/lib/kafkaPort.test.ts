import { Partitioners } from 'kafkajs';
import { keyPartition, murmur2 } from '../../../lib/kafkaPort';
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
