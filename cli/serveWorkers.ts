import cluster, { type Worker } from 'node:cluster';
import { applyCatalog, readCatalogFile, seedCatalogFile } from '../catalog/catalogFile';
import { migrate } from '../catalog/migrate';
import type { GovxConfig } from '../lib/config';
import { createPool, ensureDatabase } from '../lib/db';
import type { Logger } from '../lib/logger';

/**
 * `govx serve --workers N`: N gateway processes sharing one port through node:cluster (the primary accepts
 * connections and hands them round-robin to the workers). The gateway is stateless — keys, limits, idempotency
 * and the audit chain live in PostgreSQL, records in Kafka — so any worker can answer any request. The primary
 * only prepares the database (migrations, the seed catalog) once, forks the workers, replaces one that dies,
 * and on SIGTERM/SIGINT passes the signal on and exits when all have finished their shutdown sequence.
 * The distributor and the in-process connect worker run in worker 1 only (they scale through their own
 * consumer groups, not through the HTTP port). The metrics listener is shared the same way, so a scrape
 * reads one worker's registry: scrape each worker through GOVX_METRICS_PORT per process when that matters.
 */
export async function servePrimary(config: GovxConfig, log: Logger, opts: { workers: number; seed: boolean }): Promise<{ port: number }> {
  await ensureDatabase(config.databaseUrl, log);
  const pool = createPool(config.databaseUrl, { max: 4, applicationName: 'govx-primary' });
  try {
    await migrate(pool, log);
    if (opts.seed) await applyCatalog(pool, readCatalogFile(seedCatalogFile), { actor: 'info-office' });
  } finally {
    await pool.end();
  }
  let stopping = false;
  const envOf = new Map<Worker, Record<string, string>>();
  const fork = (index: number): Worker => {
    const env: Record<string, string> = { GOVX_SERVE_WORKER: String(index) };
    if (index > 1) Object.assign(env, { GOVX_DISTRIBUTOR: 'false', GOVX_CONNECT_WORKER: 'false' });
    const worker = cluster.fork(env);
    envOf.set(worker, env);
    worker.on('exit', (code, signal) => {
      envOf.delete(worker);
      if (stopping) return;
      log.error({ worker: index, code, signal }, 'a gateway worker exited; starting another');
      setTimeout(() => fork(index), 1000);
    });
    return worker;
  };
  const workers = Array.from({ length: opts.workers }, (_, i) => fork(i + 1));
  // the first 'listening' of a worker is the gateway's port (the metrics listener starts after it)
  const ports = await Promise.all(
    workers.map(
      (w) =>
        new Promise<number>((resolve, reject) => {
          w.once('listening', (address) => resolve(address.port));
          w.once('exit', (code) => reject(new Error(`a gateway worker exited with ${code} while starting`)));
        }),
    ),
  );
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: envOf.size }, 'stopping the gateway workers');
    const alive = [...envOf.keys()];
    const kill = setTimeout(() => alive.forEach((w) => w.process.kill('SIGKILL')), config.shutdownTimeoutMs + 5000);
    let failed = false;
    void Promise.all(
      alive.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', (code) => {
              if (code !== 0) failed = true;
              resolve();
            });
            w.process.kill(signal);
          }),
      ),
    ).then(() => {
      clearTimeout(kill);
      process.exit(failed ? 1 : 0);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { port: ports[0]! };
}

/** Whether this process is a worker forked by `govx serve --workers N` (it must not seed; the primary did). */
export const isServeWorker = (): boolean => cluster.isWorker && process.env.GOVX_SERVE_WORKER !== undefined;
