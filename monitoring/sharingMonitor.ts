/**
 * The sharing monitor: a small component the gateway starts and stops with its lifecycle. Every
 * GOVX_MONITOR_INTERVAL_MS it checks dataset freshness, reply deadlines and access volumes (runOnce), one run
 * at a time; a run that fails is logged and the next one tries again.
 */
import type client from 'prom-client';
import type { GovxConfig } from '../lib/config';
import type { Pool } from '../lib/db';
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { WorkingCalendar } from '../reports/workingCalendar';
import { AccessAnomalyCheck } from './accessAnomalies';
import { AlertBook, type RaisedAlert } from './alerts';
import { FreshnessCheck, type FreshnessState } from './freshness';
import { AlertNotifier } from './notifier';
import { ReplyDeadlineCheck, type ReplyDeadline } from './replyDeadlines';

export interface MonitorRun {
  freshness: FreshnessState[];
  replyDeadlines: ReplyDeadline[];
  anomalies: RaisedAlert[];
}

export type MonitorSettings = Pick<
  GovxConfig,
  'monitorIntervalMs' | 'replyDeadlineWorkingDays' | 'replyReminderWorkingDays' | 'anomalyBaselineDays' | 'anomalyVolumeFactor' | 'anomalyMinRecords' | 'anomalyBulkRecords'
>;

export class SharingMonitor {
  readonly freshness: FreshnessCheck;
  private readonly replies: ReplyDeadlineCheck;
  private readonly anomalies: AccessAnomalyCheck;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private readonly log: Logger;

  constructor(
    deps: { pool: Pool; log: Logger; calendar: WorkingCalendar; registry: client.Registry },
    private readonly settings: MonitorSettings,
  ) {
    this.log = deps.log;
    const alerts = new AlertBook(deps.pool, new AlertNotifier(deps.pool, deps.log));
    this.freshness = new FreshnessCheck(deps.pool, alerts, deps.calendar, deps.registry);
    this.replies = new ReplyDeadlineCheck(deps.pool, alerts, deps.calendar, {
      workingDays: settings.replyDeadlineWorkingDays,
      reminderWorkingDays: settings.replyReminderWorkingDays,
    });
    this.anomalies = new AccessAnomalyCheck(deps.pool, alerts, {
      baselineDays: settings.anomalyBaselineDays,
      volumeFactor: settings.anomalyVolumeFactor,
      minRecords: settings.anomalyMinRecords,
      bulkRecords: settings.anomalyBulkRecords,
    });
  }

  /** One pass of every check, judged at `now`. */
  async runOnce(now: Date = new Date()): Promise<MonitorRun> {
    const freshness = await this.freshness.run(now);
    const replyDeadlines = await this.replies.run(now);
    const anomalies = await this.anomalies.run(now);
    return { freshness, replyDeadlines, anomalies };
  }

  /** Starts the periodic checks (none when the interval is 0). */
  start(): void {
    if (this.timer || this.settings.monitorIntervalMs === 0) return;
    const tick = (): void => {
      if (this.running) return;
      this.running = this.runOnce()
        .catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'sharing monitor run failed'))
        .finally(() => {
          this.running = null;
        });
    };
    this.timer = setInterval(tick, this.settings.monitorIntervalMs);
    this.timer.unref();
    tick();
  }

  /** Stops the periodic checks and waits for a run in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
