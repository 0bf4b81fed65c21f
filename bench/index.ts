import { benchConnectors } from './connectors';
import { formatE2eTable, runE2eBench } from './e2e';
import { loadAverage as loadavg } from './support';
import { formatDistributeTable, runDistributeBench } from './distribute';
import { formatPipelineTable, runPipelineBench } from './pipeline';
import { formatPublishTable, runPublishBench } from './publish';
import { benchSink } from './sink';

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** `npm run bench -- <name>`: benchmarks that compare govx with a raw baseline on the same broker, in one run. */
const benches: Record<string, (args: string[]) => Promise<void>> = {
  publish: async () => {
    const result = await runPublishBench();
    print(JSON.stringify(result, null, 2));
    print(formatPublishTable(result));
  },
  /** the in-process publish path of one request, stage by stage (CPU µs per record; no broker, no database) */
  pipeline: async (args) => {
    const result = runPipelineBench({ requests: args[0] ? Number(args[0]) : undefined });
    print(JSON.stringify(result, null, 2));
    print(formatPipelineTable(result));
  },
  /** p99 from a publish's 200 to the row committed by a postgres-sink, against the raw pipeline; gateway RSS under hostile input */
  e2e: async () => {
    const result = await runE2eBench();
    print(JSON.stringify(result, null, 2));
    print(formatE2eTable(result));
  },
  /** the distributor with 1, 5 and 20 live subscriptions against a raw consume-and-produce copy */
  distribute: async (args) => {
    const records = args[0] ? Number(args[0]) : undefined;
    const result = await runDistributeBench({ records });
    print(JSON.stringify(result, null, 2));
    print(formatDistributeTable(result));
  },
  /** postgres-source against a raw produce of the same rows, and postgres-sink against a raw COPY */
  connectors: async (args) => {
    const rows = args[0] ? Number(args[0]) : 20_000;
    const load = loadavg();
    const source = await benchConnectors(rows);
    const sink = await benchSink(rows);
    print(JSON.stringify({ bench: 'connectors', loadAverage: { before: load, after: loadavg() }, source, sink }, null, 2));
    print(`load average ${load} → ${loadavg()}`);
    print('| connector | rows | govx rows/s | best raw rows/s | ratio | start-up s | steady rows/s (ratio) | govx CPU s | raw arms (rows/s) |');
    print('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    print(
      `| postgres-source (vs raw acks=all produce) | ${source.rows} | ${source.sourceRowsPerSecond} | ${source.rawProduceRowsPerSecond} | ${source.ratio} | ${source.firstRecordsSeconds} | ${source.steadyRowsPerSecond} (${source.steadyRatio}) | ${source.sourceCpuSeconds} | ${source.rawArms.map((a) => `${a.name}: ${a.rowsPerSecond}`).join('; ')} |`,
    );
    for (const m of sink.modes) {
      print(
        `| postgres-sink, ${m.mode} (vs raw COPY) | ${sink.rows} | ${m.rowsPerSecond} | ${sink.rawCopyRowsPerSecond} | ${m.ratio} | ${m.firstRowSeconds} | ${m.steadyRowsPerSecond} (${m.steadyRatio}) | ${m.cpuSeconds} | COPY: ${sink.rawCopyRounds.join(' / ')} |`,
      );
    }
    print('');
    print('| postgres-sink insert, connect workers | govx rows/s | ratio | start-up s | steady rows/s | CPU s (workers) | steady CPU µs/row |');
    print('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const w of sink.workers) print(`| ${w.workers} | ${w.rowsPerSecond} | ${w.ratio} | ${w.firstRowSeconds} | ${w.steadyRowsPerSecond} | ${w.cpuSeconds} | ${w.steadyCpuMicrosPerRow} |`);
  },
};

async function main(): Promise<void> {
  const [name = 'publish', ...args] = process.argv.slice(2);
  const bench = benches[name];
  if (!bench) {
    process.stderr.write(`bench: unknown benchmark "${name}"; known: ${Object.keys(benches).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  await bench(args);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
