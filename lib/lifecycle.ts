import { errorMessage } from './errors';
import type { Logger } from './logger';

/**
 * How every runtime role of a govx process (the gateway's HTTP server, HTTP delivery, the distributor, a
 * connect worker, and the Kafka and PostgreSQL clients under them) stops: one sequence, last started first
 * stopped, within one deadline. A role's `stop` receives a signal that fires shortly before the deadline:
 * from then on it stops waiting for work in flight (the HTTP server cuts its connections). What a role
 * did not finish by the deadline is reported, and the sequence ends anyway, so the process can exit.
 */
export type StopRole = (finishNow: AbortSignal) => Promise<void>;

export interface ShutdownReport {
  reason: string;
  /** every role stopped before the deadline */
  clean: boolean;
  stopped: string[];
  /** roles that failed to stop or were still stopping at the deadline */
  unfinished: string[];
}

export class ShutdownSequence {
  private readonly roles: Array<{ name: string; stop: StopRole }> = [];
  private running: Promise<ShutdownReport> | null = null;

  constructor(
    private readonly log: Logger,
    /** GOVX_SHUTDOWN_TIMEOUT_MS */
    readonly timeoutMs: number,
  ) {}

  /** Registers a role as it starts; roles stop in the reverse order. */
  add(name: string, stop: StopRole): void {
    if (this.running) throw new Error(`cannot add ${name}: the process is shutting down`);
    this.roles.push({ name, stop });
  }

  get shuttingDown(): boolean {
    return this.running !== null;
  }

  /** Stops every role once; later calls get the same report. */
  run(reason: string): Promise<ShutdownReport> {
    this.running ??= this.stopAll(reason);
    return this.running;
  }

  private async stopAll(reason: string): Promise<ShutdownReport> {
    const started = Date.now();
    const finishNow = new AbortController();
    // the roles get a moment after "finish now" to let go of what they hold
    const grace = Math.min(2000, Math.floor(this.timeoutMs / 4));
    const soon = setTimeout(() => finishNow.abort(), this.timeoutMs - grace);
    let expire!: () => void;
    const deadline = new Promise<'deadline'>((resolve) => (expire = () => resolve('deadline')));
    const hard = setTimeout(expire, this.timeoutMs);
    const report: ShutdownReport = { reason, clean: true, stopped: [], unfinished: [] };
    this.log.info({ reason, roles: this.roles.map((r) => r.name).reverse(), timeoutMs: this.timeoutMs }, 'shutting down');
    try {
      const roles = [...this.roles].reverse();
      for (const [i, role] of roles.entries()) {
        const outcome = await Promise.race([
          role.stop(finishNow.signal).then(
            () => 'stopped' as const,
            (err: unknown) => {
              this.log.error({ role: role.name, err: errorMessage(err) }, 'a role failed to stop');
              return 'failed' as const;
            },
          ),
          deadline,
        ]);
        if (outcome === 'stopped') {
          report.stopped.push(role.name);
          this.log.debug({ role: role.name }, 'stopped');
          continue;
        }
        report.clean = false;
        report.unfinished.push(role.name);
        if (outcome === 'deadline') {
          report.unfinished.push(...roles.slice(i + 1).map((r) => r.name));
          this.log.error({ unfinished: report.unfinished, timeoutMs: this.timeoutMs }, 'shutdown deadline passed');
          break;
        }
      }
    } finally {
      clearTimeout(soon);
      clearTimeout(hard);
    }
    this.log.info({ reason, clean: report.clean, ms: Date.now() - started }, 'govx stopped');
    return report;
  }
}

/**
 * The process's end: SIGINT or SIGTERM runs the shutdown sequence and then exits (0 when every role
 * stopped in time, 1 otherwise), whatever timers or sockets a client library still holds. A second
 * signal during the shutdown exits at once.
 */
export function exitAfterShutdown(sequence: ShutdownSequence, log: Logger, exit: (code: number) => void = (code) => process.exit(code)): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    if (sequence.shuttingDown) {
      log.warn({ signal }, 'second signal during shutdown: exiting now');
      exit(1);
      return;
    }
    void sequence.run(signal).then((report) => exit(report.clean ? 0 : 1));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
