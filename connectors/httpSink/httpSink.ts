import crypto from 'node:crypto';
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { CanonicalAddress } from '../../lib/netAddress';
import type { SinkRecord, SinkWriter, SinkWriteResult } from '../runtime/sinkTask';

/**
 * Delivers batches of records to a consumer's webhook: `POST {"records":[…]}` as JSON, signed with
 * HMAC-SHA256 over `<timestamp>.<body>` (header `X-Govx-Signature: t=<unix>,v1=<hex>`), with a batch id
 * (`X-Govx-Batch-Id`, stable across retries) so receivers can drop a batch they already took.
 *
 * 2xx is delivered. 408, 429, 5xx and network faults are transient (thrown: the runtime retries with
 * backoff). Any other status means the endpoint will never take these records: they are reported as
 * failed and go to the dead-letter topic.
 *
 * The endpoint must be among the webhook targets an administrator allowed for the department (a loopback,
 * private or link-local address needs that allowance to say so) — checked on every connection, against the
 * addresses DNS actually returned, and connected to at the address checked. Redirects are never followed:
 * a 3xx is a refusal of the batch like any other status.
 */

export interface HttpSinkOptions {
  connector: string;
  url: string;
  hmacSecret: string | null;
  timeoutMs: number;
  /** the department's webhook allowance, read at every connection */
  checkTarget: WebhookTargetCheck;
}

/** Retrying cannot make a target that is not allowed acceptable: the connector fails at once. */
export { TargetNotAllowed as EndpointRefused } from '../targets';

/** Resolves the webhook's host and returns the addresses it may connect to; throws TargetNotAllowed otherwise. */
export type WebhookTargetCheck = (hostname: string) => Promise<CanonicalAddress[]>;

/** A `lookup` for the agent: the addresses come from the check, at every new connection, so a name that re-resolves elsewhere is judged again. */
function checkedLookup(check: WebhookTargetCheck): net.LookupFunction {
  return (hostname, options, callback) => {
    check(hostname).then(
      (addresses) => {
        const list = addresses.map((a) => ({ address: a.address, family: a.family }));
        if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
        callback(null, list[0]!.address, list[0]!.family);
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, '', 4),
    );
  };
}

export class HttpSinkWriter implements SinkWriter {
  private agent: http.Agent | null = null;
  private readonly url: URL;

  constructor(private readonly opts: HttpSinkOptions) {
    this.url = new URL(opts.url);
  }

  async open(): Promise<void> {
    const Agent = this.url.protocol === 'https:' ? https.Agent : http.Agent;
    // An address literal never reaches the agent's lookup: it is checked here, and connected to as checked.
    await this.opts.checkTarget(this.url.hostname);
    this.agent = new Agent({ keepAlive: true, maxSockets: 2, lookup: checkedLookup(this.opts.checkTarget) } as http.AgentOptions);
  }

  async close(): Promise<void> {
    this.agent?.destroy();
    this.agent = null;
  }

  async write(records: SinkRecord[]): Promise<SinkWriteResult> {
    const first = records[0]!;
    const last = records[records.length - 1]!;
    const batchId = `${this.opts.connector}:${first.topic}:${first.partition}:${first.offset}-${last.offset}`;
    const body = JSON.stringify({
      batchId,
      records: records.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, schemaId: r.schemaId, headers: r.headers, value: r.value })),
    });
    const timestamp = Math.floor(Date.now() / 1000).toString();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'govx-http-sink',
      'x-govx-batch-id': batchId,
      'x-govx-connector': this.opts.connector,
    };
    if (this.opts.hmacSecret) headers['x-govx-signature'] = `t=${timestamp},v1=${signature(this.opts.hmacSecret, timestamp, body)}`;
    const status = await this.post(body, headers);
    if (status >= 200 && status < 300) return { failed: [] };
    if (status === 408 || status === 429 || status >= 500) throw new Error(`the endpoint answered ${status}`);
    return { failed: records.map((_, index) => ({ index, errorClass: `http:${status}`, message: `the endpoint refused the batch with ${status}` })) };
  }

  private post(body: string, headers: Record<string, string>): Promise<number> {
    const client = this.url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = client.request(this.url, { method: 'POST', headers, agent: this.agent!, timeout: this.opts.timeoutMs }, (res) => {
        res.resume(); // the answer's body is not ours to keep
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.opts.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** What a receiver recomputes: hex HMAC-SHA256 of `<timestamp>.<body>` with the shared secret. */
export function signature(secret: string, timestamp: string, body: string): string {
  return crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}
