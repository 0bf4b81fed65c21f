import crypto from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { migrate } from '../../catalog/migrate';
import { SchemaCache } from '../../catalog/registry/schemaCache';
import { KafkaExchange } from '../../lib/kafkaExchange';
import { GatewayMetrics } from '../../lib/metrics';
import { DatasetRuntimes } from '../../publish/datasetRuntime';
import type { GovxConfig } from '../../lib/config';
import { createPool, ensureDatabase } from '../../lib/db';
import { errorMessage } from '../../lib/errors';
import { createKafka } from '../../lib/kafka';
import { kafkajsPort } from '../../lib/kafkaPort';
import type { Logger } from '../../lib/logger';
import { Keyring } from '../../lib/keyring';
import { connectFileRoot, departmentFileRoot } from '../fileRoot';
import { TargetGuard } from '../targets';
import { type ConnectorConfig, createTask, kindOf, runsOnOneWorker, validateConnectorConfig } from '../plugins';
import { TaskStopped, sleep } from './retry';
import { sinkGroupId } from './sinkTask';
import { addCounts, type ConnectorDefinition, forgetDeadTasks, heartbeat, listConnectors, recordError, removeTask, sealStoredConnectorSecrets, useConnectorSecretsKeyring } from './store';
import { type ConnectorTask, TaskCounters, type TaskContext } from './task';

/** Advisory-lock key space of single-worker connectors (the second key is hashtext(name)); distinct from migrations and audit. */
const SOURCE_LOCK_SPACE = 4_711_006;

interface ActiveTask {
  def: ConnectorDefinition;
  controller: AbortController;
  task: ConnectorTask;
  counters: TaskCounters;
  lockClient: pg.Client | null;
  done: Promise<void>;
}

/** What a worker shares with every task it runs. */
export interface WorkerDeps extends Pick<TaskContext, 'pool' | 'kafka' | 'exchange' | 'runtimes' | 'schemas' | 'metrics' | 'log'> {
  config: GovxConfig;
}

export interface WorkerOptions {
  workerId?: string;
  /** Which connectors this worker may run (default: all); lets a deployment dedicate workers, and tests isolate theirs. */
  accepts?: (def: ConnectorDefinition) => boolean;
}

const shouldRun = (d: ConnectorDefinition | undefined): d is ConnectorDefinition =>
  d !== undefined && d.desiredState === 'RUNNING' && d.failedGeneration !== d.generation;

/**
 * A connect worker: every GOVX_CONNECT_POLL_MS it reads the connector definitions and converges on them —
 * starting what should run, stopping what was paused, deleted, reconfigured or failed. Several workers
 * share the work: each runs every sink as a member of its consumer group (govx-connect-<name>), and a
 * source (or the file sink) only while it holds that connector's PostgreSQL advisory lock, so exactly one
 * worker runs it.
 * Status (heartbeat, counts, lag, last error) goes to PostgreSQL, where any gateway reads it.
 */
export class ConnectWorker {
  readonly workerId: string;
  private readonly tasks = new Map<string, ActiveTask>();
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;

  private readonly accepts: (def: ConnectorDefinition) => boolean;
  /** where each department's connectors may connect, and govx's own database identity */
  readonly targets: TargetGuard;
  /**
   * Generations that failed on this worker. A round that read the definitions before the failure was
   * recorded would otherwise start the failed generation again; a resume or a new config moves it on.
   */
  private readonly failedGenerations = new Map<string, number>();

  constructor(
    private readonly deps: WorkerDeps,
    opts: WorkerOptions = {},
  ) {
    this.workerId = opts.workerId ?? `${os.hostname()}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
    this.accepts = opts.accepts ?? (() => true);
    this.targets = new TargetGuard(deps.pool);
  }

  /** A standalone worker (`govx connect`): its own pool, Kafka clients and dataset runtimes. */
  static async start(config: GovxConfig, log: Logger, opts: WorkerOptions = {}): Promise<ConnectWorker> {
    useConnectorSecretsKeyring(Keyring.open({ keysDir: config.keysDir, masterKeyBase64: config.masterKey }));
    await ensureDatabase(config.databaseUrl, log);
    const pool = createPool(config.databaseUrl, { max: 10, applicationName: 'govx-connect' });
    try {
      await migrate(pool, log);
      await sealStoredConnectorSecrets(pool);
    } catch (err) {
      await pool.end();
      throw err;
    }
    const kafka = kafkajsPort(createKafka(config, log, 'connect'));
    const exchange = new KafkaExchange(
      kafka,
      { partitions: config.topicPartitions, replicationFactor: config.topicReplicationFactor, timeoutMs: config.kafkaRequestTimeoutMs },
      log.child({ component: 'connect-exchange' }),
    );
    const schemas = new SchemaCache(pool);
    const worker = new ConnectWorker(
      { config, pool, kafka, exchange, schemas, runtimes: new DatasetRuntimes(pool, schemas), metrics: new GatewayMetrics(), log: log.child({ component: 'connect' }) },
      opts,
    );
    // govx's own database identity is learned now: connections that reach it are refused from the first one
    await worker.targets.govxIdentity().catch((err: unknown) => log.warn({ err: errorMessage(err) }, "could not read govx's database identity yet"));
    worker.begin();
    const close = worker.close.bind(worker);
    let closing: Promise<void> | null = null;
    worker.close = () =>
      (closing ??= (async () => {
        await close();
        await exchange.close();
        await pool.end();
      })());
    return worker;
  }

  begin(): void {
    this.loop ??= (async () => {
      this.deps.log.info({ workerId: this.workerId }, 'connect worker started');
      while (!this.stopping.signal.aborted) {
        await this.tick().catch((err: unknown) => this.deps.log.warn({ err: errorMessage(err) }, 'connect worker round failed; trying again'));
        await sleep(this.deps.config.connectPollMs, this.stopping.signal);
      }
    })();
  }

  /** Names of the connectors this worker runs right now. */
  running(): string[] {
    return [...this.tasks.keys()].sort();
  }

  /** One round: converge on the definitions, then report heartbeats and counts. */
  async tick(): Promise<void> {
    const defs = new Map((await listConnectors(this.deps.pool)).filter(this.accepts).map((d) => [d.name, d]));
    for (const [name, generation] of this.failedGenerations) if (defs.get(name)?.generation !== generation) this.failedGenerations.delete(name);
    const stops: Promise<void>[] = [];
    for (const [name, active] of this.tasks) {
      const def = defs.get(name);
      if (!shouldRun(def) || def.generation !== active.def.generation) stops.push(this.stopTask(active, def === undefined));
    }
    await Promise.all(stops);
    for (const def of defs.values()) {
      if (this.stopping.signal.aborted) return;
      if (shouldRun(def) && !this.tasks.has(def.name) && this.failedGenerations.get(def.name) !== def.generation) await this.startTask(def).catch((err: unknown) => this.deps.log.warn({ connector: def.name, err: errorMessage(err) }, 'could not start connector'));
    }
    await this.report();
  }

  private async report(): Promise<void> {
    for (const active of this.tasks.values()) {
      const counts = active.counters.take();
      try {
        await addCounts(this.deps.pool, active.def.name, counts);
      } catch (err) {
        active.counters.putBack(counts);
        throw err;
      }
      await heartbeat(this.deps.pool, active.def.name, this.workerId, 'RUNNING', active.counters.lag);
    }
    // Rows of workers that died long ago; a live worker refreshes its rows every round.
    await forgetDeadTasks(this.deps.pool, 3600_000);
  }

  private async startTask(def: ConnectorDefinition): Promise<void> {
    const { deps } = this;
    const fileRoot = departmentFileRoot(connectFileRoot(deps.config), def.owner);
    const validated = validateConnectorConfig(def.name, def.config, { fileRoot });
    if (!validated.ok) {
      await recordError(deps.pool, def.name, `invalid config: ${validated.problems.map((p) => p.message).join('; ')}`, def.generation);
      return;
    }
    const config = validated.config;
    let lockClient: pg.Client | null = null;
    if (runsOnOneWorker(config.connectorClass)) {
      lockClient = await this.acquireLock(def.name);
      if (!lockClient) return; // another worker runs it
    }
    const controller = new AbortController();
    const counters = new TaskCounters();
    const ctx: TaskContext<ConnectorConfig> = {
      name: def.name,
      owner: def.owner,
      generation: def.generation,
      config,
      workerId: this.workerId,
      pool: deps.pool,
      lockClient,
      kafka: deps.kafka,
      exchange: deps.exchange,
      runtimes: deps.runtimes,
      schemas: deps.schemas,
      metrics: deps.metrics,
      log: deps.log.child({ connector: def.name }),
      signal: controller.signal,
      counters,
      fileRoot,
      targets: this.targets,
    };
    // Losing the lock session means another worker may take the source over: stop at once.
    lockClient?.on('error', () => controller.abort());
    const task = createTask(ctx);
    const active: ActiveTask = { def, controller, task, counters, lockClient, done: Promise.resolve() };
    this.tasks.set(def.name, active);
    active.done = task.run().then(
      () => this.finished(active, null),
      (err: unknown) => this.finished(active, err),
    );
    await heartbeat(deps.pool, def.name, this.workerId, 'RUNNING', null);
    deps.log.info({ connector: def.name, class: config.connectorClass, generation: def.generation }, 'connector task started');
  }

  private async acquireLock(name: string): Promise<pg.Client | null> {
    const client = new pg.Client({ connectionString: this.deps.config.databaseUrl, application_name: 'govx-connect-lock', connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const { rows } = await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS got', [SOURCE_LOCK_SPACE, name]);
      if (rows[0]?.got) return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    await client.end().catch(() => undefined);
    return null;
  }

  private async finished(active: ActiveTask, err: unknown): Promise<void> {
    const { deps } = this;
    const name = active.def.name;
    const failed = Boolean(err) && !(err instanceof TaskStopped) && !active.controller.signal.aborted;
    if (failed) this.failedGenerations.set(name, active.def.generation);
    if (this.tasks.get(name) === active) this.tasks.delete(name);
    await addCounts(deps.pool, name, active.counters.take()).catch(() => undefined);
    await removeTask(deps.pool, name, this.workerId).catch(() => undefined);
    if (failed) {
      const message = errorMessage(err);
      deps.log.error({ connector: name, err: message }, 'connector FAILED');
      await recordError(deps.pool, name, message, active.def.generation).catch((e: unknown) => {
        // Unrecorded, the failure is not the connector's state: a later round tries it again.
        this.failedGenerations.delete(name);
        deps.log.warn({ err: errorMessage(e) }, 'could not record the failure');
      });
    }
    // Ending the session releases the source's advisory lock, after the task has stopped writing offsets.
    await active.lockClient?.end().catch(() => undefined);
  }

  private async stopTask(active: ActiveTask, deleted: boolean): Promise<void> {
    active.controller.abort();
    await active.task.stop().catch(() => undefined);
    await active.done;
    this.deps.log.info({ connector: active.def.name, deleted }, 'connector task stopped');
    if (deleted && kindOf(active.def.connectorClass) === 'sink') await this.forgetGroup(active.def.name);
  }

  /** A deleted sink's committed offsets go with it, so a new connector of the same name starts afresh (best effort: the last member to leave succeeds). */
  private async forgetGroup(name: string): Promise<void> {
    const admin = this.deps.kafka.admin();
    try {
      await admin.connect();
      await admin.deleteGroups([sinkGroupId(name)]);
    } catch {
      /* other members still in the group, or already gone */
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Stops every task (sinks commit what they wrote; sources finish the batch in flight) and the loop. */
  async close(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    await Promise.all([...this.tasks.values()].map((a) => this.stopTask(a, false)));
    this.deps.log.info({ workerId: this.workerId }, 'connect worker stopped');
  }
}
