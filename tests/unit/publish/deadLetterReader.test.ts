import { sourceDeadLetterMessage } from '../../../connectors/runtime/deadLetter';
import { deadLetters } from '../../../publish/stages';
import { describeDeadLetter, newestFirst, PAYLOAD_PREVIEW_BYTES, type DeadLetterRecord } from '../../../publish/deadLetterReader';
import type { IncomingMessage, OutgoingMessage } from '../../../lib/kafkaPort';

const asRead = (m: OutgoingMessage, offset = '7', timestamp = '1700000000000'): IncomingMessage => ({
  key: m.key === null || m.key === undefined ? null : Buffer.from(m.key),
  value: m.value === null ? null : Buffer.from(m.value),
  headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, Buffer.from(String(v))])),
  offset,
  timestamp,
});

describe('describeDeadLetter', () => {
  const ctx = { dataset: 'd', keyField: 'code', publisher: 'statistics', requestId: 'req-1', schemaId: 4, rejectedAt: '2026-12-02T10:00:00.000Z' };

  it("reads the publish path's headers: reason code, message, errors, who and when, without the record", () => {
    const [m] = deadLetters([{ index: 3, errors: [{ path: 'value', message: 'must be a number', rule: 'type' }] }], [0, 1, 2, { code: 'X', value: 'bad' }], new Map(), ctx);
    const d = describeDeadLetter(asRead(m!), 2, false);
    expect(d).toMatchObject({
      partition: 2, offset: '7', at: '2026-12-02T10:00:00.000Z', source: 'publish', publisher: 'statistics', connector: null,
      requestId: 'req-1', recordIndex: 3, reasonCode: 'type', reason: 'value: must be a number', schemaId: 4, truncated: false,
      errors: [{ path: 'value', message: 'must be a number', rule: 'type' }],
    });
    expect(d).not.toHaveProperty('payload');
    expect(d).not.toHaveProperty('key');
  });

  it("reads a source connector's headers, timed by the record's timestamp", () => {
    const m = sourceDeadLetterMessage('pg-src', { dataset: 'd', origin: 'table t, id 9', key: 'K', record: 'not json', errorClass: 'parse', errorMessage: 'line 1: not JSON' });
    expect(describeDeadLetter(asRead(m), 0, true)).toMatchObject({
      source: 'connector', connector: 'pg-src', origin: 'table t, id 9', publisher: null, reasonCode: 'parse', reason: 'line 1: not JSON',
      at: new Date(1700000000000).toISOString(), key: 'K', payload: 'not json', payloadClipped: false, recordIndex: null,
    });
  });

  it('cuts the payload to its preview size and survives headers that are not what govx writes', () => {
    const big: OutgoingMessage = { key: null, value: 'x'.repeat(PAYLOAD_PREVIEW_BYTES + 10), headers: { 'govx-errors': '[{"path":1}', 'govx-record-index': '-1', 'govx-rejected-at': 'yesterday' } };
    const d = describeDeadLetter(asRead(big), 0, true);
    expect(d.payload).toHaveLength(PAYLOAD_PREVIEW_BYTES);
    expect(d).toMatchObject({ payloadClipped: true, payloadBytes: PAYLOAD_PREVIEW_BYTES + 10, errors: [], recordIndex: null, reasonCode: 'unknown' });
  });
});

describe('newestFirst', () => {
  const rec = (partition: number, offset: number, at: string): DeadLetterRecord => ({ partition, offset: String(offset), at } as DeadLetterRecord);

  it('takes the newest across partitions, each partition from its top down', () => {
    const byPartition = new Map([
      [0, [rec(0, 0, '2026-01-01T00:00:01Z'), rec(0, 1, '2026-01-01T00:00:04Z')]],
      [1, [rec(1, 5, '2026-01-01T00:00:03Z'), rec(1, 6, '2026-01-01T00:00:02Z')]],
    ]);
    // partition 1's offset 6 carries an older time than 5: the page still takes 6 before 5 (never skipping one)
    expect(newestFirst(byPartition, 3).map((r) => `${r.partition}:${r.offset}`)).toEqual(['0:1', '1:6', '1:5']);
    expect(newestFirst(byPartition, 10)).toHaveLength(4);
  });
});
