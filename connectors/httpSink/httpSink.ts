import crypto from 'node:crypto';
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { ConnectorFailure } from '../runtime/retry';
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
 * Unless `http.allow.private` is set, the endpoint may not be on a loopback, link-local, private,
 * shared or unspecified address — checked on every connection, against the addresses DNS actually
 * returned, so a name that re-resolves to an internal address is refused too.
 */

export interface HttpSinkOptions {
  connector: string;
  url: string;
  hmacSecret: string | null;
  timeoutMs: number;
  allowPrivate: boolean;
}

/** Retrying cannot make an internal address acceptable: the connector fails at once. */
export class EndpointRefused extends ConnectorFailure {}

const BLOCKED_V4: Array<[string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const BLOCKED_V6: Array<[string, number]> = [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
];

const blockList = (() => {
  const list = new net.BlockList();
  for (const [a, p] of BLOCKED_V4) list.addSubnet(a, p, 'ipv4');
  for (const [a, p] of BLOCKED_V6) list.addSubnet(a, p, 'ipv6');
  return list;
})();

/** Whether an address is loopback, link-local, private, shared, reserved or unspecified (IPv4-mapped IPv6 too). */
export function isInternalAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blockList.check(mapped[1]!, 'ipv4');
  return blockList.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
}

/** A `lookup` for the agent: resolves as usual, then refuses internal addresses at connect time. */
function guardedLookup(allowPrivate: boolean): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = addresses as dns.LookupAddress[];
      const refused = allowPrivate ? undefined : list.find((a) => isInternalAddress(a.address));
      if (refused) {
        return callback(new EndpointRefused(`${hostname} resolves to ${refused.address}, an internal address (set http.allow.private to allow it)`), '', 4);
      }
      if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
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
    this.agent = new Agent({ keepAlive: true, maxSockets: 2, lookup: guardedLookup(this.opts.allowPrivate) } as http.AgentOptions);
    if (!this.opts.allowPrivate && net.isIP(this.url.hostname.replace(/^\[|\]$/g, '')) && isInternalAddress(this.url.hostname.replace(/^\[|\]$/g, ''))) {
      throw new EndpointRefused(`${this.url.hostname} is an internal address (set http.allow.private to allow it)`);
    }
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
