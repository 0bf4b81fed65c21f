import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { applyCatalog, readCatalogFile, seedCatalogFile } from '../../../catalog/catalogFile';
import { defaultSchemaSubject } from '../../../catalog/datasets';
import { departmentFileRoot } from '../../../connectors/fileRoot';
import { ConnectWorker } from '../../../connectors/runtime/worker';
import { loadConfig } from '../../../lib/config';
import { createLogger } from '../../../lib/logger';
import type { Kafka } from 'kafkajs';
import { allowConnectorTargets, localDatabase, type TargetGrant } from '../../support/connectorTargets';
import { httpJson, type ReadMessage, readTopicUntil, startTestStack, type TestStack, topicEnd, type TopicPosition } from '../../support/stack';

/** A gateway and a file root for connector tests; every connector a test creates is named `<prefix>…`. */
export interface ConnectTestStack extends TestStack {
  /** GOVX_CONNECT_FILE_ROOT; each department's file connectors work in its own directory under it (see dirOf) */
  fileRoot: string;
  /** A department's connector directory (created): file connector paths are relative to it. */
  dirOf: (department: string) => string;
  /** An administrator allows the department's connectors to reach what the test set up for it. */
  allowTargets: (department: string, grant: TargetGrant) => Promise<void>;
  /** … a loopback database of the test cluster, by its URL. */
  allowDatabase: (department: string, dbUrl: string) => Promise<void>;
  prefix: string;
  env: Record<string, string>;
  admin: string;
  /** A worker in this process that runs only this file's connectors. */
  startWorker: () => Promise<ConnectWorker>;
  api: (method: string, p: string, body?: unknown, key?: string) => ReturnType<typeof httpJson>;
  waitForStatus: (name: string, until: (status: any) => boolean, timeoutMs?: number) => Promise<any>;
  /**
   * A copy of population.residents (owner psb) for this test file alone: tests that publish thousands of
   * records keep them off the shared dataset topic, which other suites read from its beginning.
   */
  privateResidents: () => Promise<string>;
  /** The same for any seed dataset (`geospatial.buildings`, …): owner, sharing and schema as in the seed. */
  privateCopy: (seedId: string) => Promise<string>;
  /** Topics deleted when the stack closes. */
  dropTopicsOnClose: (...topics: string[]) => void;
}

export async function startConnectTestStack(label: string, extraEnv: Record<string, string> = {}): Promise<ConnectTestStack> {
  const fileRoot = fs.mkdtempSync(path.join(os.tmpdir(), `govx-connect-${label}-`));
  const env = { GOVX_CONNECT_FILE_ROOT: fileRoot, GOVX_CONNECT_POLL_MS: '200', GOVX_CONNECT_WORKER: 'false', ...extraEnv };
  const stack = await startTestStack(env);
  const prefix = `${label}-${crypto.randomBytes(3).toString('hex')}-`;
  const admin = await stack.key('info-office', 'admin');
  const api = (method: string, p: string, body?: unknown, key = admin) => httpJson(`${stack.url}${p}`, { method, key, body });
  const config = loadConfig({ ...process.env, ...env });
  const topicsToDrop = new Set<string>();
  const privateCopy = async (seedId: string): Promise<string> => {
    const seed = readCatalogFile(seedCatalogFile).find((d) => d.definition.id === seedId)!;
    const id = `conntest.${seedId.split('.')[1]}-${crypto.randomBytes(4).toString('hex')}`;
    await applyCatalog(stack.pool, [{ ...seed, definition: { ...seed.definition, id, schemaSubject: defaultSchemaSubject(id) } }], { actor: 'info-office' });
    topicsToDrop.add(`govx.dataset.${id}`);
    topicsToDrop.add(`govx.dlq.${id}`);
    return id;
  };
  const allowTargets = (department: string, grant: TargetGrant) => allowConnectorTargets(stack.url, admin, department, grant);
  return {
    ...stack,
    fileRoot,
    dirOf: (department) => {
      const dir = departmentFileRoot(fileRoot, department);
      fs.mkdirSync(dir, { recursive: true });
      return dir;
    },
    allowTargets,
    allowDatabase: (department, dbUrl) => allowTargets(department, localDatabase(dbUrl)),
    prefix,
    env,
    admin,
    api,
    startWorker: () =>
      ConnectWorker.start(config, createLogger(process.env.GOVX_LOG_LEVEL ?? 'silent', 'govx-test-connect'), {
        accepts: (def) => def.name.startsWith(prefix),
      }),
    waitForStatus: async (name, until, timeoutMs = 45_000) => {
      const deadline = Date.now() + timeoutMs;
      let last: any;
      while (Date.now() < deadline) {
        const res = await api('GET', `/v1/connectors/${name}/status`);
        last = res.body;
        if (res.status === 200 && until(res.body)) return res.body;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`connector ${name} never reached the expected status; last: ${JSON.stringify(last)}`);
    },
    privateResidents: async () => privateCopy('population.residents'),
    privateCopy: async (seedId: string) => privateCopy(seedId),
    dropTopicsOnClose: (...topics) => topics.forEach((t) => topicsToDrop.add(t)),

    close: async () => {
      await stack.close();
      fs.rmSync(fileRoot, { recursive: true, force: true });
      if (topicsToDrop.size) {
        const admin = stack.kafka.admin();
        await admin.connect();
        const existing = new Set(await admin.listTopics());
        await admin.deleteTopics({ topics: [...topicsToDrop].filter((t) => existing.has(t)) }).catch(() => undefined);
        await admin.disconnect();
      }
    },
  };
}

/** A database of a department's own system, created for one test file and dropped after it. */
export async function createDepartmentDatabase(label: string): Promise<{ url: string; client: pg.Client; drop: () => Promise<void> }> {
  const base = new URL(process.env.DATABASE_URL!);
  const name = `govx_dept_${label}_${crypto.randomBytes(4).toString('hex')}`;
  base.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return {
    url: url.toString(),
    client,
    drop: async () => {
      await client.end().catch(() => undefined);
      const a = new pg.Client({ connectionString: base.toString() });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await a.end();
    },
  };
}

const projectRoot = path.resolve(__dirname, '..', '..', '..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** Crash tests run a worker as a real process (SIGKILL cannot be simulated in-process); it runs from dist/, built if stale. */
export function ensureBuilt(): void {
  const built = path.join(projectRoot, 'dist', 'connectors', 'runtime', 'worker.js');
  const sources = Math.max(...['lib', 'catalog', 'schemas', 'publish', 'distributor', 'gateway', 'connectors', 'reports', 'monitoring', 'cli'].map((d) => newestMtime(path.join(projectRoot, d))));
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= sources) return;
  execFileSync(process.execPath, [path.join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(projectRoot, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
}

/** A connect worker in a child process that runs only connectors named `<prefix>…`. */
export function spawnWorker(env: Record<string, string>, prefix: string): ChildProcess {
  const script = `
    const { loadConfig } = require(${JSON.stringify(path.join(projectRoot, 'dist', 'lib', 'config.js'))});
    const { createLogger } = require(${JSON.stringify(path.join(projectRoot, 'dist', 'lib', 'logger.js'))});
    const { ConnectWorker } = require(${JSON.stringify(path.join(projectRoot, 'dist', 'connectors', 'runtime', 'worker.js'))});
    const prefix = process.argv[1];
    ConnectWorker.start(loadConfig(), createLogger('warn', 'govx-test-worker'), { accepts: (d) => d.name.startsWith(prefix) })
      .catch((err) => { console.error(err); process.exit(1); });
  `;
  return spawn(process.execPath, ['-e', script, prefix], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
}

export async function killWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

export const eventually = async <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 45_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

export { topicEnd };

/** Reads a topic from `from` (see topicEnd; empty: from the beginning) until `done` says so. */
export function readTopicFrom(kafka: Kafka, topic: string, from: TopicPosition, done: (got: ReadMessage[]) => boolean, timeoutMs = 60_000): Promise<ReadMessage[]> {
  return readTopicUntil(kafka, topic, done, timeoutMs, from);
}
