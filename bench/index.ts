import { benchConnectors } from './connectors';
import { formatDistributeTable, runDistributeBench } from './distribute';
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
  /** the distributor with 1, 5 and 20 live subscriptions against a raw consume-and-produce copy */
  distribute: async (args) => {
    const records = args[0] ? Number(args[0]) : undefined;
    const rounds = await runDistributeBench({ records });
    print(JSON.stringify({ bench: 'distribute', rounds }));
    print(formatDistributeTable(rounds));
  },
  /** postgres-source against a raw produce of the same rows, and postgres-sink against a raw COPY */
  connectors: async (args) => {
    const rows = args[0] ? Number(args[0]) : 20_000;
    const source = await benchConnectors(rows);
    const sink = await benchSink(rows);
    print(JSON.stringify({ bench: 'connectors', source, sink }));
    print('| connector | rows | govx rows/s | raw rows/s | ratio |');
    print('| --- | ---: | ---: | ---: | ---: |');
    print(`| postgres-source (vs raw acks=all produce) | ${source.rows} | ${source.sourceRowsPerSecond} | ${source.rawProduceRowsPerSecond} | ${source.ratio} |`);
    print(`| postgres-sink (vs raw COPY) | ${sink.rows} | ${sink.sinkRowsPerSecond} | ${sink.rawCopyRowsPerSecond} | ${sink.ratio} |`);
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
