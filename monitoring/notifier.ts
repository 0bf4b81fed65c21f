/**
 * Sends alerts to the webhooks departments configured (PUT /v1/departments/{id}/webhook), signed as the
 * http-sink signs its batches: `X-Govx-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. A webhook
 * that fails is logged and skipped: the alert stays in the audit trail and the API either way.
 */
import { signature } from '../connectors/httpSink/httpSink';
import type { Pool } from '../lib/db';
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/logger';

export type AlertEvent = 'alert.raised' | 'alert.cleared';

export interface NotifiedAlert {
  id: number;
  kind: string;
  subject: string;
  department: string;
  raisedAt: string;
  clearedAt?: string;
  details: Record<string, unknown>;
}

const TIMEOUT_MS = 5000;

export class AlertNotifier {
  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
  ) {}

  /** POSTs the alert to its department's webhook and, when asked, to every administrator department's. */
  async send(event: AlertEvent, alert: NotifiedAlert, includeAdmins: boolean): Promise<void> {
    const { rows } = await this.pool.query<{ department: string; url: string; secret: string }>(
      `SELECT w.department, w.url, w.secret FROM notification_webhooks w JOIN departments d ON d.id = w.department
        WHERE w.department = $1 OR ($2 AND d.kind = 'administrator') ORDER BY w.department`,
      [alert.department, includeAdmins],
    );
    const { id, kind, subject, department, raisedAt, clearedAt, details } = alert;
    const body = JSON.stringify({ event, alert: { id, kind, subject, department, raisedAt, clearedAt: clearedAt ?? null, details } });
    await Promise.all(rows.map((hook) => this.post(hook, event, body, alert)));
  }

  private async post(hook: { department: string; url: string; secret: string }, event: AlertEvent, body: string, alert: NotifiedAlert): Promise<void> {
    const timestamp = Math.floor(Date.now() / 1000).toString();
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'govx-monitor',
          'x-govx-event': event,
          'x-govx-signature': `t=${timestamp},v1=${signature(hook.secret, timestamp, body)}`,
        },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) this.log.warn({ department: hook.department, alert: alert.id, status: res.status }, 'alert webhook refused the notification');
    } catch (err) {
      this.log.warn({ department: hook.department, alert: alert.id, err: errorMessage(err) }, 'alert webhook unreachable');
    }
  }
}
