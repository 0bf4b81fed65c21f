import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../lib/config';
import { projectPath } from '../lib/paths';

/**
 * What the benchmarks share: free ports, CPU accounting of this process and of child processes (/proc),
 * Kafka's own Java producer (ProducerPerformance) as the physical-limit arm, and a throw-away PLAINTEXT
 * broker on loopback for the one comparison that needs it (what TLS and ACLs cost).
 */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a live process has used so far, from /proc/<pid>/stat; 0 if it is gone. */
export function processCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of this process's children that have ended and been reaped (cutime + cstime). */
export function reapedChildrenCpuSeconds(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / TICKS;
}

/** CPU seconds of this process (the bench's own clients and raw producers). */
export const selfCpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

export const round2 = (n: number): number => Math.round(n * 100) / 100;
export const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/** The pid of the secured broker scripts/services.sh started for KAFKA_BROKERS (its CPU is reported per arm), if any. */
export function securedBrokerPid(): number | undefined {
  const port = loadConfig().kafkaBrokers[0]!.split(':').pop();
  try {
    return Number(fs.readFileSync(projectPath('.cache', 'kafka', `broker-${port}`, 'broker.pid'), 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

export function kafkaVersion(): string {
  const pom = fs.readFileSync(projectPath('scripts', 'kafka', 'pom.xml'), 'utf8');
  return /<kafka.version>(.*)<\/kafka.version>/.exec(pom)?.[1] ?? 'unknown';
}

const kafkaLibs = (): string => path.join(process.env.GOVX_CACHE_DIR ? path.resolve(process.env.GOVX_CACHE_DIR) : projectPath('.cache'), 'kafka', kafkaVersion(), 'libs');

export function loadAverage(): string {
  return os.loadavg().map((n) => n.toFixed(2)).join(' ');
}

export interface JavaProducerResult {
  records: number;
  recordsPerSec: number;
  /** the producer's own figures: mean and p99 latency of a send (ms) */
  avgLatencyMs: number;
  p99LatencyMs: number;
  /** CPU seconds of the JVM, start-up included */
  cpuSeconds: number;
  wallSeconds: number;
}

/**
 * Kafka's own Java producer (org.apache.kafka.tools.ProducerPerformance from the resolved jars): `records`
 * records of `recordSize` bytes, acks=all, idempotent, the given batch.size/linger.ms, through `bootstrap`
 * with the client properties in `clientConfig` (the secured listener: govx's SASL_SSL credentials).
 */
export async function javaProducer(opts: {
  topic: string;
  records: number;
  recordSize: number;
  bootstrap: string;
  clientConfig?: string;
  batchSize: number;
  lingerMs: number;
}): Promise<JavaProducerResult> {
  const args = [
    '-Xms128m', '-Xmx512m', '-XX:+UseG1GC',
    `-Dlog4j2.configurationFile=${projectPath('scripts', 'kafka', 'log4j2.properties')}`, `-Dgovx.kafka.log=${os.tmpdir()}/govx-bench-producer.log`,
    '-cp', `${kafkaLibs()}/*`, 'org.apache.kafka.tools.ProducerPerformance',
    '--topic', opts.topic, '--num-records', String(opts.records), '--record-size', String(opts.recordSize), '--throughput', '-1',
    '--bootstrap-server', opts.bootstrap,
    '--command-property', 'acks=all', 'enable.idempotence=true', `batch.size=${opts.batchSize}`, `linger.ms=${opts.lingerMs}`,
    'compression.type=none', 'max.in.flight.requests.per.connection=5',
    ...(opts.clientConfig ? ['--command-config', opts.clientConfig] : []),
  ];
  const cpuBefore = reapedChildrenCpuSeconds();
  const started = performance.now();
  const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const wallSeconds = (performance.now() - started) / 1000;
  // the final summary: "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency, p50 ms 50th, p95 ms 95th, p99 ms 99th, ..."
  const summary = out.trim().split('\n').reverse().find((l) => /records sent, [\d.]+ records\/sec/.test(l));
  if (code !== 0 || !summary) throw new Error(`ProducerPerformance failed (exit ${code}): ${(err || out).slice(-800)}`);
  const num = (re: RegExp) => Number(re.exec(summary)?.[1] ?? NaN);
  return {
    records: num(/^(\d+) records sent/),
    recordsPerSec: Math.round(num(/([\d.]+) records\/sec/)),
    avgLatencyMs: num(/([\d.]+) ms avg latency/),
    p99LatencyMs: num(/([\d.]+) ms 99th/),
    cpuSeconds: round2(reapedChildrenCpuSeconds() - cpuBefore),
    wallSeconds: round2(wallSeconds),
  };
}

/**
 * The --command-config given to Kafka's tools for the secured listener. ProducerPerformance takes a
 * properties file; dev-security.sh writes govx's (govx-client.properties, mode 600, in the git-ignored cache).
 */
export function securedClientConfig(): string {
  const config = loadConfig();
  return path.join(path.dirname(config.kafkaCaFile), 'govx-client.properties');
}

export interface PlainBroker {
  bootstrap: string;
  pid: number;
  /** a kafkajs client without TLS or SASL, for this broker only */
  kafka: Kafka;
  stop: () => Promise<void>;
}

/**
 * A throw-away single-node KRaft broker with one PLAINTEXT listener bound to 127.0.0.1 and no authorizer,
 * started for the comparison arm that measures what TLS + SASL + ACLs cost, and stopped (by its pid) and
 * deleted at the end. Same topic defaults as the secured broker; nothing else ever connects to it.
 */
export async function startPlainBroker(): Promise<PlainBroker> {
  const port = await freePort();
  const controller = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'govx-bench-plain-'));
  const props = path.join(dir, 'server.properties');
  fs.writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controller}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${path.join(dir, 'data')}`,
      'auto.create.topics.enable=false',
      'num.partitions=3',
      'default.replication.factor=1',
      'min.insync.replicas=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=10',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );
  const cp = `${kafkaLibs()}/*`;
  const log4j = [`-Dlog4j2.configurationFile=${projectPath('scripts', 'kafka', 'log4j2.properties')}`, `-Dgovx.kafka.log=${path.join(dir, 'broker.log')}`];
  const format = spawn('java', [...log4j, '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', 'govx-bench-plaintext0', '-c', props], { stdio: 'ignore' });
  const formatted = await new Promise<number | null>((r) => format.once('exit', r));
  if (formatted !== 0) throw new Error(`formatting the plaintext broker failed (${formatted}); see ${dir}/broker.log`);
  const child: ChildProcess = spawn('java', ['-Xms256m', '-Xmx512m', '-XX:+UseG1GC', '-Djava.awt.headless=true', ...log4j, '-cp', cp, 'kafka.Kafka', props], { stdio: 'ignore' });
  const bootstrap = `127.0.0.1:${port}`;
  const kafka = new Kafka({ clientId: 'govx-bench-plain', brokers: [bootstrap], logLevel: logLevel.NOTHING, connectionTimeout: 10000, requestTimeout: 30000 });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30000);
      await new Promise((r) => child.once('exit', r));
      clearTimeout(t);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`the plaintext broker exited (${child.exitCode})`);
    }
    const admin = kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      await admin.describeCluster();
      await admin.disconnect();
      break;
    } catch {
      await admin.disconnect().catch(() => undefined);
      if (Date.now() > deadline) {
        await stop();
        throw new Error('the plaintext broker did not answer within 120 s');
      }
      await sleep(500);
    }
  }
  return { bootstrap, pid: child.pid!, kafka, stop };
}
