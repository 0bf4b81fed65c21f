import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { applyCatalog, exportCatalog, readCatalogFile, seedCatalogFile } from '../catalog/catalogFile';
import { roles } from '../catalog/keys';
import { issueKey, type KeyManager, listKeys, revokeKey, rotateKey } from '../catalog/keyService';
import { migrate } from '../catalog/migrate';
import { ConfigError, loadConfig } from '../lib/config';
import { createPool, ensureDatabase, type Pool } from '../lib/db';
import { GovxError } from '../lib/errors';
import { exitAfterShutdown, ShutdownSequence } from '../lib/lifecycle';
import { createLogger } from '../lib/logger';
import { projectPath } from '../lib/paths';
import { applyHeapGrowing } from '../lib/heap';
import { consoleBuildDir } from '../gateway/consoleRoutes';
import { startGateway } from '../gateway/server';
import { generateSample, sampleDatasetIds } from '../schemas/samples';
import { useAuditKeyring } from '../catalog/audit';
import { Keyring } from '../lib/keyring';
import { auditCommand } from './audit';
import { ConnectWorker } from '../connectors/runtime/worker';
import { publishFile } from './publish';
import { isServeWorker, servePrimary } from './serveWorkers';
import { kafkaCredentialsCommand } from './kafkaCredentials';
import { writeSharingReport, type ReportFormat } from './report';

/** Runs `fn` with a migrated database pool, closing it afterwards. */
async function withDatabase<T>(fn: (pool: Pool) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = createLogger(process.env.GOVX_LOG_LEVEL ?? 'warn', 'govx-cli');
  useAuditKeyring(Keyring.open({ keysDir: config.keysDir, masterKeyBase64: config.masterKey }));
  await ensureDatabase(config.databaseUrl, log);
  const pool = createPool(config.databaseUrl, { max: 2, applicationName: 'govx-cli' });
  try {
    await migrate(pool, log);
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function serve(opts: { services: boolean; seed: boolean; workers?: number }): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'govx', config.logFormat);
  applyHeapGrowing(config.heapGrowingPercent);
  if (opts.services && !isServeWorker()) execFileSync('bash', [projectPath('scripts', 'services.sh'), 'up'], { stdio: 'inherit' });
  if ((opts.workers ?? 1) > 1 && !isServeWorker()) {
    const { port } = await servePrimary(config, log, { workers: opts.workers!, seed: opts.seed });
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    out(`govx gateway on ${url} with ${opts.workers} worker processes (Ctrl-C to stop)`);
    out(consoleLine(url));
    return;
  }
  if (isServeWorker()) opts = { ...opts, seed: false };
  const shutdown = new ShutdownSequence(log, config.shutdownTimeoutMs);
  // a signal while starting stops what has started so far
  exitAfterShutdown(shutdown, log);
  const gateway = await startGateway(config, log, { seed: opts.seed, shutdown });
  if (config.connectWorker) {
    const worker = await ConnectWorker.start(config, log);
    shutdown.add('connect worker', () => worker.close());
  }
  out(`govx gateway on ${gateway.url}${config.connectWorker ? ' with a connect worker' : ''} (Ctrl-C to stop)`);
  if (!isServeWorker()) out(consoleLine(gateway.url));
}

/** The last line of a start-up: where people open the console (or how to build it, in a checkout without its build). */
function consoleLine(url: string): string {
  return fs.existsSync(path.join(consoleBuildDir, 'index.html'))
    ? `console: ${url}/console/`
    : `console: not built in this checkout (npm run build), then ${url}/console/`;
}

function parseWorkers(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError('--workers takes a whole number from 1 to 64');
  return n;
}

export function buildProgram(): Command {
  const program = new Command('govx').description('govx — a governed data-sharing exchange between government departments').showHelpAfterError();

  program
    .command('start')
    .description('start the local stack (Kafka, migrations, seed catalog) and serve the gateway until Ctrl-C')
    .action(() => serve({ services: true, seed: true }));

  program
    .command('serve')
    .description('serve the gateway against already running services (migrates; --seed applies the seed catalog)')
    .option('--seed', 'apply the seed catalog first', false)
    .option('--workers <n>', 'gateway processes sharing the port (node:cluster; the gateway is stateless)', parseWorkers, 1)
    .action((o: { seed: boolean; workers: number }) => serve({ services: false, seed: o.seed, workers: o.workers }));

  program
    .command('connect')
    .description('run a connect worker: it runs the connectors defined over /v1/connectors, sharing them with other workers, until Ctrl-C')
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel, 'govx', config.logFormat);
      const shutdown = new ShutdownSequence(log, config.shutdownTimeoutMs);
      exitAfterShutdown(shutdown, log);
      const worker = await ConnectWorker.start(config, log);
      shutdown.add('connect worker', () => worker.close());
      out(`govx connect worker ${worker.workerId} running (Ctrl-C to stop)`);
    });

  program
    .command('migrate')
    .description('create the database if missing and apply pending migrations')
    .action(async () => {
      const config = loadConfig();
      const log = createLogger('warn', 'govx-cli');
      await ensureDatabase(config.databaseUrl, log);
      const pool = createPool(config.databaseUrl, { max: 1 });
      try {
        const r = await migrate(pool, log);
        out(r.applied.length ? `applied ${r.applied.join(', ')}` : `up to date (${r.alreadyApplied} migrations)`);
      } finally {
        await pool.end();
      }
    });

  // Keys are managed on the database directly, as the installation's operator (audited as such): the CLI
  // must work before any key exists and while the API is down, e.g. to revoke a leaked admin key.
  const operator: KeyManager = { kind: 'operator' };
  const keys = program.command('keys').description('API keys of departments (on the database, as the operator; audited)');
  keys
    .command('create')
    .description('create an API key; its secret is printed once')
    .requiredOption('--department <id>', 'department id, e.g. psb')
    .addOption(new Option('--role <role>', 'what the key may do').choices([...roles]).makeOptionMandatory())
    .option('--label <text>', 'a note on what the key is for')
    .option('--json', 'print {"id","key","department","role","label","createdAt"} as JSON', false)
    .action(async (o: { department: string; role: string; label?: string; json: boolean }) => {
      const created = await withDatabase((pool) => issueKey(pool, operator, o));
      if (o.json) out(JSON.stringify(created));
      else out(`created ${created.role} key ${created.id} for ${created.department}; the secret is shown only now:\n${created.key}`);
    });
  keys
    .command('list')
    .description('list API keys (never their secrets): id, department, role, created, revoked, label')
    .option('--department <id>', 'only this department\'s keys')
    .option('--json', 'print the keys as a JSON array', false)
    .action(async (o: { department?: string; json: boolean }) => {
      const list = await withDatabase((pool) => listKeys(pool, operator, { department: o.department }));
      if (o.json) return out(JSON.stringify(list));
      for (const k of list) {
        const state = k.revokedAt ? `revoked ${k.revokedAt}${k.replacedBy ? ` (rotated to ${k.replacedBy})` : ''}` : 'live';
        out(`${k.id}  ${k.department.padEnd(14)} ${k.role.padEnd(9)} created ${k.createdAt}  ${state}${k.label ? `  ${k.label}` : ''}`);
      }
    });
  keys
    .command('revoke <id>')
    .description('revoke an API key; every gateway refuses it from the next request on')
    .action(async (id: string) => {
      const revoked = await withDatabase((pool) => revokeKey(pool, operator, id));
      out(`revoked ${revoked.role} key ${revoked.id} of ${revoked.department}`);
    });
  keys
    .command('rotate <id>')
    .description('issue a new key with the same department, role and label and revoke the old one; the new secret is printed once')
    .option('--json', 'print {"id","key","department","role","label","createdAt","replaces"} as JSON', false)
    .action(async (id: string, o: { json: boolean }) => {
      const created = await withDatabase((pool) => rotateKey(pool, operator, id));
      if (o.json) out(JSON.stringify(created));
      else out(`rotated ${created.replaces} to ${created.role} key ${created.id} for ${created.department}; ${created.replaces} is revoked. The new secret is shown only now:\n${created.key}`);
    });

  program.addCommand(kafkaCredentialsCommand(withDatabase));

  program
    .command('sample <dataset>')
    .description(`print realistic, valid sample records as NDJSON (${sampleDatasetIds.join(', ')})`)
    .option('--count <n>', 'how many records', '10')
    .option('--seed <n>', 'random seed, for repeatable output')
    .action((dataset: string, o: { count: string; seed?: string }) => {
      const count = Number(o.count);
      if (!Number.isInteger(count) || count < 1 || count > 10_000_000) throw new GovxError(400, 'cli.invalid_count', '--count must be a whole number from 1 to 10000000');
      const seed = o.seed === undefined ? undefined : Number(o.seed);
      const chunk = 10_000;
      for (let done = 0; done < count; done += chunk) {
        const batch = generateSample(dataset, Math.min(chunk, count - done), seed === undefined ? undefined : seed + done);
        process.stdout.write(`${batch.map((r) => JSON.stringify(r)).join('\n')}\n`);
      }
    });

  program
    .command('publish <dataset> <file>')
    .description('publish an NDJSON or CSV file of any size through the gateway (GOVX_URL, GOVX_KEY), in batches')
    .option('--batch-size <n>', 'records per request', '1000')
    .addOption(new Option('--format <format>', 'file format (default: by extension, .csv is CSV)').choices(['ndjson', 'csv']))
    .action(async (dataset: string, file: string, o: { batchSize: string; format?: 'ndjson' | 'csv' }) => {
      const batchSize = Number(o.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) throw new GovxError(400, 'cli.invalid_batch_size', '--batch-size must be a whole number from 1 to 100000');
      const key = process.env.GOVX_KEY;
      if (!key) throw new GovxError(401, 'cli.missing_key', 'set GOVX_KEY to a publisher key of the dataset owner (npx govx keys create --department D --role publisher)');
      if (!fs.existsSync(file)) throw new GovxError(400, 'cli.no_file', `no such file: ${file}`);
      const summary = await publishFile({
        url: (process.env.GOVX_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
        key,
        dataset,
        file,
        batchSize,
        format: o.format,
        progress: process.stdout.isTTY === true,
      });
      if (summary.rejected > 0) process.exitCode = 1;
    });

  const catalog = program.command('catalog').description('the sharing catalog');
  catalog
    .command('apply [file]')
    .description('apply a catalog file (default: the seed catalog); prints what was created, changed or left alone')
    .option('--dry-run', 'show what would change without changing anything', false)
    .action(async (file: string | undefined, o: { dryRun: boolean }) => {
      const planned = readCatalogFile(file ?? seedCatalogFile);
      const results = await withDatabase((pool) => applyCatalog(pool, planned, { dryRun: o.dryRun, actor: 'info-office' }));
      for (const r of results) out(`${o.dryRun ? 'would be ' : ''}${r.action.padEnd(9)} ${r.id}${r.changes.length ? ` (${r.changes.join(', ')})` : ''}`);
    });
  catalog
    .command('export')
    .description('print the catalog as a YAML file that `catalog apply` accepts')
    .action(async () => {
      process.stdout.write(await withDatabase((pool) => exportCatalog(pool)));
    });

  const report = program.command('report').description('reports computed from govx\'s own records');
  report
    .command('sharing')
    .description('the sharing KPI report of a quarter or period (GOVX_URL, GOVX_KEY of an administrator or steward): a summary page, one section per department, tables and charts')
    .option('--quarter <quarter>', 'e.g. 2026Q4 (China time)')
    .option('--from <date>', 'start of the period (a date, or an ISO 8601 timestamp), with --to')
    .option('--to <date>', 'end of the period (exclusive)')
    .option('--department <id>', 'administrators: only this department')
    .addOption(new Option('--format <format>', 'what to write').choices(['html', 'pdf', 'csv']).default('html'))
    .addOption(new Option('--lang <lang>', 'language of the report').choices(['zh', 'en']).default('zh'))
    .option('--out <file>', 'where to write it (default: govx-sharing-<period>.<format> here)')
    .action(async (o: { quarter?: string; from?: string; to?: string; department?: string; format: ReportFormat; lang: 'zh' | 'en'; out?: string }) => {
      const key = process.env.GOVX_KEY;
      if (!key) throw new GovxError(401, 'cli.missing_key', 'set GOVX_KEY to an administrator key, or a steward key for your own department');
      if (!o.quarter && !(o.from && o.to)) throw new GovxError(400, 'cli.missing_period', 'give --quarter (e.g. 2026Q4), or --from and --to');
      const file = await writeSharingReport({ ...o, url: (process.env.GOVX_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''), key });
      out(`wrote ${file}`);
    });

  program.addCommand(auditCommand(withDatabase));

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof GovxError) {
      process.stderr.write(`govx: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}
