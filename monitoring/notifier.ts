/**
 * Sends alerts to the webhooks departments configured (PUT /v1/departments/{id}/webhook), signed as the
 * http-sink signs its batches: `X-Govx-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. A webhook
 * that fails is logged and skipped: the alert stays in the audit trail and the API either way.
 *
 * A department chooses its webhook's URL, so govx reaches it only where an administrator allowed that
 * department's webhooks to go (the same allowance as its http-sink connectors: allowed hosts, and private or
 * loopback addresses only with `allowPrivate`), judged on the resolved addresses at every send and connected to
 * as checked; redirects are not followed. A webhook outside the allowance is not called, and logged as such.
 */
import http from 'node:http';
import https from 'node:https';
import { checkedLookup, signature } from '../connectors/httpSink/httpSink';
import { TargetGuard, TargetNotAllowed } from '../connectors/targets';
import { Keyring, openDefaultKeyring } from '../lib/keyring';
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

/** What a department's webhook secret is sealed to (PUT /v1/departments/{id}/webhook seals, the notifier opens). */
export const webhookSealContext = (department: string): string => `webhook:${department}`;

/** The secret to sign with: stored sealed (or, from before sealing, in clear). */
function openSecret(department: string, stored: string): string {
  return Keyring.isSealed(stored) ? openDefaultKeyring().unseal(stored, webhookSealContext(department)) : stored;
}

export class AlertNotifier {
  private readonly targets: TargetGuard;

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
  ) {
    this.targets = new TargetGuard(pool);
  }

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
      const url = new URL(hook.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TargetNotAllowed('url');
      const check = (host: string) => this.targets.webhook(hook.department, host);
      // an address literal never reaches the agent's lookup: it is judged here, and connected to as judged
      await check(url.hostname.replace(/^\[|\]$/g, ''));
      const status = await postOnce(url, body, {
        'content-type': 'application/json',
        'user-agent': 'govx-monitor',
        'x-govx-event': event,
        'x-govx-signature': `t=${timestamp},v1=${signature(openSecret(hook.department, hook.secret), timestamp, body)}`,
      }, checkedLookup(check));
      if (status < 200 || status >= 300) this.log.warn({ department: hook.department, alert: alert.id, status }, 'alert webhook refused the notification');
    } catch (err) {
      if (err instanceof TargetNotAllowed) {
        this.log.warn({ department: hook.department, alert: alert.id, code: err.code }, 'alert webhook not called: its target is not among those an administrator allowed for the department');
        return;
      }
      this.log.warn({ department: hook.department, alert: alert.id, err: errorMessage(err) }, 'alert webhook unreachable');
    }
  }
}

/** One POST through an agent whose every connection resolves through `lookup`; the status, redirects not followed. */
function postOnce(url: URL, body: string, headers: Record<string, string>, lookup: ReturnType<typeof checkedLookup>): Promise<number> {
  const client = url.protocol === 'https:' ? https : http;
  const agent = new client.Agent({ keepAlive: false, lookup } as http.AgentOptions);
  return new Promise<number>((resolve, reject) => {
    const req = client.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) }, timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.once('error', reject);
    req.end(body);
  }).finally(() => agent.destroy());
}
