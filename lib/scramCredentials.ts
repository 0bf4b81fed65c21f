import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import type { GovxConfig } from './config';
import { GovxError, UnavailableError } from './errors';
import { type KafkaClientConfig, kafkaSecurity } from './kafka';
import type { Logger } from './logger';
import { projectPath } from './paths';

/**
 * SCRAM credentials as the broker keeps them. kafkajs cannot alter them (it has no
 * AlterUserScramCredentials), so govx runs Kafka's own Admin API in a small Java program
 * (scripts/kafka/tools/GovxScramCredentials.java, compiled against the resolved Kafka jars; decision 0014).
 * The program is started on first use and kept while requests keep coming (one JVM start, not one per
 * request); it exits when idle. Every secret, govx's own password included, crosses over its standard
 * input, never a command line, and it never prints one back.
 */
export interface ScramCredentialStore {
  /** Creates or replaces `username`'s SCRAM-SHA-512 credential; the broker keeps only its salted hash. */
  upsert(username: string, password: string, iterations: number): Promise<void>;
  /** Deletes it; 'absent' when there was none. */
  remove(username: string): Promise<'removed' | 'absent'>;
  /** The mechanisms and iteration counts the broker holds for `username` (never a secret). */
  describe(username: string): Promise<Array<{ mechanism: string; iterations: number }>>;
  close(): Promise<void>;
}

export type ScramToolConfig = KafkaClientConfig & Pick<GovxConfig, 'kafkaLibsDir' | 'kafkaToolsDir'>;

const TOOL_CLASS = 'GovxScramCredentials';
const USERNAME = /^[A-Za-z0-9._-]{1,200}$/;

const unavailable = (reason: string, cause?: unknown): UnavailableError =>
  new UnavailableError('kafka.credentials_unavailable', `the broker's credentials could not be changed: ${reason}`, 10, cause);

let building: Promise<void> | null = null;

/** Compiles the tool when its class is missing or older than its source (scripts/kafka/build-tools.sh). */
async function ensureToolBuilt(config: ScramToolConfig): Promise<void> {
  const source = projectPath('scripts', 'kafka', 'tools', `${TOOL_CLASS}.java`);
  const compiled = path.join(config.kafkaToolsDir, `${TOOL_CLASS}.class`);
  const mtime = (file: string): number => {
    try {
      return fs.statSync(file).mtimeMs;
    } catch {
      return -1;
    }
  };
  if (mtime(compiled) >= 0 && (mtime(source) < 0 || mtime(compiled) >= mtime(source))) return;
  building ??= promisify(execFile)('sh', [projectPath('scripts', 'kafka', 'build-tools.sh'), config.kafkaLibsDir, config.kafkaToolsDir], { timeout: 120_000 })
    .then(() => undefined)
    .catch((err: { stderr?: string; message: string }) => {
      throw unavailable(`compiling ${TOOL_CLASS} failed (${(err.stderr || err.message).trim().split('\n').pop()})`, err);
    })
    .finally(() => {
      building = null;
    });
  await building;
}

interface Pending {
  resolve: (line: string) => void;
  reject: (err: Error) => void;
}

/** The broker's SCRAM credentials through Kafka's Admin API, run by the Java tool as govx. */
export class BrokerScramCredentials implements ScramCredentialStore {
  private child: ChildProcessWithoutNullStreams | null = null;
  private readonly waiting: Pending[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | null = null;
  private stderrTail = '';

  constructor(
    private readonly config: ScramToolConfig,
    private readonly log: Logger,
    private readonly opts: { idleMs?: number; requestTimeoutMs?: number } = {},
  ) {}

  async upsert(username: string, password: string, iterations: number): Promise<void> {
    if (!/^[\x21-\x7e]{8,256}$/.test(password)) throw new GovxError(500, 'kafka.invalid_password', 'a SCRAM password must be 8-256 printable ASCII characters');
    const answer = await this.request(`upsert ${checked(username)} ${iterations}`, password);
    if (answer !== 'ok') throw unavailable(answer.replace(/^error /, ''));
  }

  async remove(username: string): Promise<'removed' | 'absent'> {
    const answer = await this.request(`delete ${checked(username)}`);
    if (answer === 'ok') return 'removed';
    if (answer === 'absent') return 'absent';
    throw unavailable(answer.replace(/^error /, ''));
  }

  async describe(username: string): Promise<Array<{ mechanism: string; iterations: number }>> {
    const answer = await this.request(`describe ${checked(username)}`);
    if (answer === 'absent') return [];
    if (!answer.startsWith('credentials')) throw unavailable(answer.replace(/^error /, ''));
    return answer
      .split(' ')
      .slice(1)
      .filter(Boolean)
      .map((item) => {
        const [mechanism, iterations] = item.split(':');
        return { mechanism: mechanism!, iterations: Number(iterations) };
      });
  }

  /** Ends the tool (it finishes the request in hand first). */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    this.stop();
  }

  /** One request at a time: the tool answers each with one line, in order. */
  private request(line: string, secret?: string): Promise<string> {
    const run = this.queue.then(async () => {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      const child = await this.started();
      const answer = new Promise<string>((resolve, reject) => this.waiting.push({ resolve, reject }));
      const timeoutMs = this.opts.requestTimeoutMs ?? 60_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(unavailable(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      child.stdin.write(`${line}\n${secret === undefined ? '' : `${secret}\n`}`);
      try {
        return await Promise.race([answer, timedOut]);
      } catch (err) {
        this.stop();
        throw err;
      } finally {
        clearTimeout(timer);
        this.idleTimer = setTimeout(() => this.stop(), this.opts.idleMs ?? 60_000);
        this.idleTimer.unref();
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async started(): Promise<ChildProcessWithoutNullStreams> {
    if (this.child) return this.child;
    await ensureToolBuilt(this.config);
    const security = kafkaSecurity(this.config);
    const password = (security.sasl as { password?: string } | undefined)?.password ?? '';
    const args = [
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      '-Xmx128m',
      '-Djava.awt.headless=true',
      '-cp',
      `${this.config.kafkaToolsDir}${path.delimiter}${path.join(this.config.kafkaLibsDir, '*')}`,
      TOOL_CLASS,
      this.config.kafkaBrokers.join(','),
      this.config.kafkaSaslMechanism,
      this.config.kafkaUsername,
      this.config.kafkaCaFile,
      ...(this.config.kafkaCertFile && this.config.kafkaKeyFile ? [this.config.kafkaCertFile, this.config.kafkaKeyFile] : []),
    ];
    const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
    const child = spawn(java, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.stderrTail = '';
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-2000);
    });
    readline.createInterface({ input: child.stdout }).on('line', (answer) => this.waiting.shift()?.resolve(answer));
    const ended = (reason: string, cause?: unknown): void => {
      if (this.child === child) this.child = null;
      const lastLine = this.stderrTail.trim().split('\n').pop();
      for (const p of this.waiting.splice(0)) p.reject(unavailable(`${reason}${lastLine ? `: ${lastLine}` : ''}`, cause));
    };
    child.on('error', (err: NodeJS.ErrnoException) =>
      ended(err.code === 'ENOENT' ? 'java (17 or newer) is not installed or not on PATH' : `the Java tool failed to start (${err.message})`, err),
    );
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGTERM') this.log.warn({ code, signal }, 'the SCRAM credential tool exited');
      ended(`the Java tool exited (${signal ?? code})`);
    });
    child.stdin.on('error', () => undefined);
    child.stdin.write(`${password}\n`);
    return child;
  }

  private stop(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const child = this.child;
    if (!child) return;
    this.child = null;
    child.stdin.end();
    const kill = setTimeout(() => child.kill('SIGTERM'), 5000);
    kill.unref();
    child.once('exit', () => clearTimeout(kill));
  }
}

function checked(username: string): string {
  if (!USERNAME.test(username)) throw new GovxError(500, 'kafka.invalid_username', `"${username.slice(0, 64)}" is not a Kafka user name govx issues`);
  return username;
}
