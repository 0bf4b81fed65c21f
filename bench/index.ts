import { runPublishBench } from './publish';

/** `npm run bench -- <name>`: benchmarks that compare govx with a raw baseline on the same broker, in one run. */
const benches: Record<string, (args: string[]) => Promise<void>> = {
  publish: runPublishBench,
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
