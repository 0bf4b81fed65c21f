import { uncovered } from '../../../catalog/receiptReconciler';
import { deliveryReceiptEntry, GOVX_DISTRIBUTOR, grantRef, publishReceiptEntry, rangesOf } from '../../../catalog/receipts';

describe('receipts', () => {
  it('describe a delivery with the shared contract and account for share-topic writes only', () => {
    const base = { subscription: { id: 'sub-a', dataset: 'population.residents', consumer: 'civil-affairs', grantVersion: 2 }, actor: GOVX_DISTRIBUTOR, topic: 'govx.share.sub-a', partition: 1, fromOffset: '10', toOffset: '19', count: 10 };
    const kafka = deliveryReceiptEntry({ ...base, channel: 'kafka' });
    expect(kafka.entry).toMatchObject({ action: 'delivery.receipt', target: 'subscription:sub-a' });
    expect(kafka.entry.details).toEqual({ subscription: 'sub-a', dataset: 'population.residents', consumer: 'civil-affairs', grantVersion: 2, channel: 'kafka', topic: 'govx.share.sub-a', partition: 1, fromOffset: '10', toOffset: '19', count: 10 });
    expect(kafka.ranges).toEqual([{ topic: 'govx.share.sub-a', partition: 1, fromOffset: '10', toOffset: '19', count: 10 }]);
    const sink = deliveryReceiptEntry({ ...base, channel: 'sink', connector: 'civil-sink' });
    expect(sink.entry.details).toMatchObject({ channel: 'sink', connector: 'civil-sink' });
    expect(sink.ranges).toEqual([]);
  });

  it('describe a publish batch with its offset range per partition', () => {
    const r = publishReceiptEntry({ dataset: 'd', publisher: { department: 'psb' }, requestId: 'r1', topic: 'govx.dataset.d', offsets: [{ partition: 0, baseOffset: '5', count: 3 }, { partition: 2, baseOffset: '0', count: 0 }], accepted: 3, rejected: 1, deadLettered: 1, schemaId: 7 });
    expect(r.entry.details).toMatchObject({ dataset: 'd', publisher: 'psb', count: 3, offsets: [{ partition: 0, baseOffset: '5', count: 3, fromOffset: '5', toOffset: '7' }, { partition: 2, count: 0 }] });
    expect(r.ranges).toEqual([{ topic: 'govx.dataset.d', partition: 0, fromOffset: '5', toOffset: '7', count: 3 }]);
  });

  it('group records read into one range per partition', () => {
    expect(rangesOf('t', [{ partition: 1, offset: '4' }, { partition: 0, offset: '9' }, { partition: 1, offset: '5' }, { partition: 1, offset: '3' }])).toEqual([
      { topic: 't', partition: 0, fromOffset: '9', toOffset: '9', count: 1 },
      { topic: 't', partition: 1, fromOffset: '3', toOffset: '5', count: 3 },
    ]);
  });

  it('name the grant by the subscription and its decision version', () => {
    expect(grantRef({ id: 'sub-a', dataset: 'd', consumer: 'tax', version: 4 })).toEqual({ id: 'sub-a', dataset: 'd', consumer: 'tax', grantVersion: 4 });
  });
});

describe('uncovered offsets', () => {
  const r = (from: number, to: number) => ({ from: BigInt(from), to: BigInt(to) });
  it('are the holes between, before and after the ranges, overlaps included', () => {
    expect(uncovered(0n, 20n, [r(0, 4), r(3, 6), r(10, 12)])).toEqual([r(7, 10), r(13, 20)]);
    expect(uncovered(5n, 10n, [r(0, 9)])).toEqual([]);
    expect(uncovered(5n, 10n, [])).toEqual([r(5, 10)]);
    expect(uncovered(0n, 10n, [r(2, 3)])).toEqual([r(0, 2), r(4, 10)]);
  });
});
