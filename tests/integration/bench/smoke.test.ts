import { benchConnectors } from '../../../bench/connectors';
import { runDistributeBench } from '../../../bench/distribute';
import { runE2eBench } from '../../../bench/e2e';
import { runPublishBench } from '../../../bench/publish';
import { benchSink } from '../../../bench/sink';
import { ensureBuilt } from '../connectors/connectSupport';

/**
 * A smoke run of each benchmark with a small record count: each must run end to end against the real
 * secured broker and PostgreSQL, and its correctness gates must hold — every record govx accepted is in Kafka
 * exactly once, every share record delivered once per run, every sink row in its table once. No timing is
 * asserted (the machine is shared); the figures are only checked to be there.
 */
describe('benchmarks (smoke run, small record counts)', () => {
  jest.setTimeout(300_000);

  it('publish: govx, the raw arms and the Java producer run; every accepted record is in Kafka exactly once', async () => {
    ensureBuilt();
    const r = await runPublishBench({
      clients: 2, rounds: 1, roundMs: 400, warmupMs: 200, latencyMs: 0, plaintext: false, java: true, javaTune: false, javaMinRecords: 2000,
      keyCheck: false, readBack: true, quiet: true, scaleOut: false,
    });
    const names = r.arms.map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['govx HTTP', 'govx HTTP, per-key limit off', 'raw kafkajs 1×1000', 'raw kafkajs 4×1000', 'Java producer']));
    for (const a of r.arms) {
      expect(a.rounds).toHaveLength(1);
      expect(a.recordsPerSec).toBeGreaterThan(0);
    }
    expect(r.correctness).toHaveLength(1);
    const [gate] = r.correctness;
    expect(gate!.accepted).toBeGreaterThan(0);
    expect(gate!.inKafka).toBe(gate!.accepted);
    expect(gate!.duplicates).toBe(0);
    expect(typeof r.ratios.govxOverBestRaw).toBe('number');
  });

  it('distribute: the distributor and the raw copies deliver every record once per run', async () => {
    const r = await runDistributeBench({ records: 300, rounds: 1, fanouts: [2], plaintext: false, quiet: true });
    expect(r.arms.map((a) => a.name)).toEqual(expect.arrayContaining(['distributor, 1 subscription', 'distributor, 2 subscriptions']));
    expect(r.correctness.length).toBe(3);
    for (const c of r.correctness) expect(c.inKafka).toBe(c.expected);
  });

  it('connectors: postgres-source puts each row in Kafka once; postgres-sink puts each record in its table once, in both modes', async () => {
    const source = await benchConnectors(300);
    expect(source.inKafka).toBe(300);
    expect(source.rawArms).toHaveLength(3);
    const sink = await benchSink(300);
    expect(sink.modes.map((m) => [m.mode, m.rowsInTable])).toEqual([['insert', 300], ['upsert', 300]]);
    expect(sink.workers.map((w) => w.workers)).toEqual([1, 2]); // each with every record in its table once (checked by the bench)
  });

  it('e2e: every batch acknowledged by govx and by the raw pipeline is committed in the consumer database; hostile input gets no 5xx', async () => {
    ensureBuilt();
    const r = await runE2eBench({ seconds: 1, quiet: true });
    for (const l of [...r.govx, ...r.raw]) {
      expect(l.batches).toBeGreaterThan(0);
      expect(l.missing).toBe(0);
    }
    expect(r.hostile.requests).toBeGreaterThan(0);
    expect(r.hostile.fiveHundreds).toBe(0);
  });
});
