import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendAudit } from '../../catalog/audit';
import type { Pool } from '../../lib/db';

/**
 * Helpers for tests of reports and the sharing monitor: a clock for scripted histories (only Date is faked,
 * so timers, sockets and Kafka clients keep real time), a webhook receiver that checks govx's signature, and
 * delivery receipts as the delivery paths write them (the contract of TEAM.md).
 */

const REAL_TIMERS = [
  'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame', 'cancelAnimationFrame', 'requestIdleCallback',
  'cancelIdleCallback', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout',
] as const;

/** A moment in China time: cst('2026-10-03T11:00') */
export const cst = (local: string): Date => new Date(`${local.length === 16 ? `${local}:00` : local}+08:00`);

/** From now on `new Date()` and `Date.now()` say `at`, in this process (the in-process gateway included). */
export function setClock(at: Date): void {
  jest.useFakeTimers({ doNotFake: [...REAL_TIMERS], now: at });
}

export function realClock(): void {
  jest.useRealTimers();
}

export interface ReceivedAlert {
  event: string;
  signatureValid: boolean;
  alert: { id: number; kind: string; subject: string; department: string; raisedAt: string; clearedAt: string | null; details: Record<string, any> };
}

/** An HTTP endpoint that records each alert POSTed to it and whether its X-Govx-Signature verifies under `secret`. */
export async function startWebhookReceiver(secret: string): Promise<{ url: string; received: ReceivedAlert[]; close: () => Promise<void> }> {
  const received: ReceivedAlert[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['x-govx-signature'] ?? ''));
      const expected = m ? crypto.createHmac('sha256', secret).update(`${m[1]}.${body}`).digest('hex') : '';
      const parsed = JSON.parse(body) as { event: string; alert: ReceivedAlert['alert'] };
      received.push({ event: parsed.event, alert: parsed.alert, signatureValid: m !== null && expected === m[2] && req.headers['x-govx-event'] === parsed.event });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/govx-alerts`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A delivery receipt (`delivery.receipt`), as the distributor, HTTP delivery and sinks record each batch. */
export async function appendDeliveryReceipt(
  pool: Pool,
  r: { subscription: string; dataset: string; consumer: string; channel: 'kafka' | 'http-pull' | 'sse' | 'sink'; count: number; fromOffset?: number; connector?: string },
): Promise<number> {
  const from = r.fromOffset ?? 0;
  const entry = await appendAudit(pool, {
    actor: { department: 'govx', keyId: null, role: 'system' },
    action: 'delivery.receipt',
    target: `subscription:${r.subscription}`,
    outcome: 'success',
    details: {
      subscription: r.subscription, dataset: r.dataset, consumer: r.consumer, grantVersion: 2, channel: r.channel,
      ...(r.connector ? { connector: r.connector } : {}),
      topic: `govx.share.${r.subscription}`, partition: 0, fromOffset: String(from), toOffset: String(from + r.count - 1), count: r.count,
    },
  });
  return entry.seq;
}

/** Inserts a department of the test's own. */
export async function createDepartment(pool: Pool, d: { id: string; zh: string; en: string; kind?: string; division?: string | null; clearance?: number }): Promise<void> {
  await pool.query('INSERT INTO departments (id, name_zh, name_en, kind, clearance, division_code) VALUES ($1, $2, $3, $4, $5, $6)', [
    d.id, d.zh, d.en, d.kind ?? 'municipal-bureau', d.clearance ?? 2, d.division ?? null,
  ]);
}
