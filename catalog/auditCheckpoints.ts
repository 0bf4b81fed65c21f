/**
 * Anchors of the audit chain outside PostgreSQL (decision 0011): a checkpoint is a statement "the chain held
 * `seq` entries and the last one hashed to `hash`", signed with govx's Ed25519 key (lib/keyring.ts, kept
 * outside the database) and written to a Kafka topic that only govx writes (`govx.audit.checkpoints`) and,
 * when configured, appended to a file. Whoever owns the database can rewrite audit_log, but neither the
 * signed statements nor the HMAC key are theirs: `verifyAuditTrail` checks the chain against every
 * checkpoint and names the first entry where they disagree, including entries removed from the end.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Pool } from '../lib/db';
import { errorMessage } from '../lib/errors';
import type { KafkaPort } from '../lib/kafkaPort';
import { readOffsetRanges } from '../lib/kafkaRanges';
import type { Keyring } from '../lib/keyring';
import type { Logger } from '../lib/logger';
import { type AuditChainKey, type AuditVerification, auditChainKeyOf, verifyAuditChain } from './audit';

export const DEFAULT_CHECKPOINT_TOPIC = 'govx.audit.checkpoints';

export interface CheckpointStatement {
  type: 'govx.audit.checkpoint';
  version: 1;
  /** the chain head: entries 1..seq */
  seq: number;
  /** the hash of entry `seq` */
  hash: string;
  /** the HMAC key the chain is hashed with (its public id) */
  keyId: string;
  /** the first keyed entry: entries from here on can only be written with the key */
  keyedFrom: number | null;
  signedAt: string;
  /** fingerprint of the public key that verifies the signature */
  signer: string;
}

export interface SignedCheckpoint {
  statement: CheckpointStatement;
  /** Ed25519 over the statement's canonical JSON, base64 */
  signature: string;
}

/** Where checkpoints are kept: each store both writes and reads them back. */
export interface CheckpointStore {
  readonly name: string;
  write(checkpoint: SignedCheckpoint): Promise<void>;
  readAll(): Promise<unknown[]>;
}

const statementBytes = (s: CheckpointStatement): Buffer =>
  Buffer.from(JSON.stringify(s, Object.keys(s).sort() as Array<keyof CheckpointStatement>), 'utf8');

export function publicKeyFingerprint(key: KeyObject): string {
  return crypto.createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function signCheckpoint(keyring: Keyring, head: { seq: number; hash: string; keyedFrom: number | null }, chainKey: AuditChainKey = auditChainKeyOf(keyring)): SignedCheckpoint {
  const statement: CheckpointStatement = {
    type: 'govx.audit.checkpoint',
    version: 1,
    seq: head.seq,
    hash: head.hash,
    keyId: chainKey.id,
    keyedFrom: head.keyedFrom,
    signedAt: new Date().toISOString(),
    signer: publicKeyFingerprint(keyring.verifyKey),
  };
  return { statement, signature: keyring.sign(statementBytes(statement)).toString('base64') };
}

/** A checkpoint as read back from a store, or null when it is not one govx's key signed. */
export function checkCheckpoint(value: unknown, publicKey: KeyObject): SignedCheckpoint | null {
  if (value === null || typeof value !== 'object') return null;
  const { statement: s, signature } = value as Partial<SignedCheckpoint>;
  if (!s || typeof signature !== 'string' || s.type !== 'govx.audit.checkpoint' || s.version !== 1) return null;
  if (!Number.isSafeInteger(s.seq) || s.seq < 1 || typeof s.hash !== 'string' || !/^[0-9a-f]{64}$/.test(s.hash)) return null;
  if (typeof s.keyId !== 'string' || typeof s.signedAt !== 'string' || typeof s.signer !== 'string') return null;
  if (s.keyedFrom !== null && !Number.isSafeInteger(s.keyedFrom)) return null;
  const clean: CheckpointStatement = { type: s.type, version: 1, seq: s.seq, hash: s.hash, keyId: s.keyId, keyedFrom: s.keyedFrom, signedAt: s.signedAt, signer: s.signer };
  try {
    return crypto.verify(null, statementBytes(clean), publicKey, Buffer.from(signature, 'base64')) ? { statement: clean, signature } : null;
  } catch {
    return null;
  }
}

/** The chain head now, or null for an empty chain. */
async function chainHead(pool: Pool): Promise<{ seq: number; hash: string; keyedFrom: number | null } | null> {
  const { rows } = await pool.query<{ seq: string; hash: string; keyed_from: string | null }>(
    `SELECT seq, hash, (SELECT min(seq) FROM audit_log WHERE hash_key IS NOT NULL) AS keyed_from FROM audit_log ORDER BY seq DESC LIMIT 1`,
  );
  const row = rows[0];
  return row ? { seq: Number(row.seq), hash: row.hash, keyedFrom: row.keyed_from === null ? null : Number(row.keyed_from) } : null;
}

/**
 * Signs the current chain head and writes it to every store. The head is checked against the chain first:
 * a checkpoint must never anchor a chain that is already broken.
 */
export async function takeCheckpoint(deps: { pool: Pool; keyring: Keyring; stores: CheckpointStore[] }): Promise<SignedCheckpoint | null> {
  const head = await chainHead(deps.pool);
  if (!head) return null;
  const chainKey = auditChainKeyOf(deps.keyring);
  const intact = await verifyAuditChain(deps.pool, { key: chainKey });
  if (!intact.ok) throw new Error(`the audit chain is broken at entry ${intact.firstBroken?.seq}; no checkpoint is signed for it`);
  const checkpoint = signCheckpoint(deps.keyring, head, chainKey);
  for (const store of deps.stores) await store.write(checkpoint);
  return checkpoint;
}

/** Checkpoints in a Kafka topic of one partition, created by govx; only govx's principal may write it. */
export class KafkaCheckpointStore implements CheckpointStore {
  readonly name: string;

  constructor(
    private readonly kafka: KafkaPort,
    private readonly topic: string,
    private readonly replicationFactor = 1,
  ) {
    this.name = `kafka:${topic}`;
  }

  async write(checkpoint: SignedCheckpoint): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      if (!(await admin.listTopics()).includes(this.topic)) {
        await admin.createTopics({ waitForLeaders: true, topics: [{ topic: this.topic, numPartitions: 1, replicationFactor: this.replicationFactor }] });
      }
    } finally {
      await admin.disconnect();
    }
    const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await producer.send({ topic: this.topic, acks: -1, messages: [{ key: 'checkpoint', value: JSON.stringify(checkpoint), partition: 0 }] });
    } finally {
      await producer.disconnect();
    }
  }

  async readAll(): Promise<unknown[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: Array<{ partition: number; low: string; high: string }>;
    try {
      if (!(await admin.listTopics()).includes(this.topic)) return [];
      ends = (await admin.fetchTopicOffsets(this.topic)).filter((o) => BigInt(o.high) > BigInt(o.low));
    } finally {
      await admin.disconnect();
    }
    if (ends.length === 0) return [];
    const ranges = new Map(ends.map((o) => [o.partition, { from: BigInt(o.low), to: BigInt(o.high) }]));
    const { records, complete } = await readOffsetRanges(this.kafka, this.topic, ranges, { group: 'govx-audit-verify', timeoutMs: 60_000, payload: true });
    if (!complete) throw new Error(`could not read the checkpoints in ${this.topic} within 60 s`);
    const out: unknown[] = [];
    for (const partition of [...records.keys()].sort((x, y) => x - y)) {
      for (const m of records.get(partition)!) {
        try {
          out.push(JSON.parse(m.value?.toString('utf8') ?? 'null'));
        } catch {
          out.push(null);
        }
      }
    }
    return out;
  }
}

/** Checkpoints appended to a file, one JSON line each, flushed to disk before the write resolves. */
export class FileCheckpointStore implements CheckpointStore {
  readonly name: string;

  constructor(private readonly file: string) {
    this.name = `file:${file}`;
  }

  async write(checkpoint: SignedCheckpoint): Promise<void> {
    await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
    const handle = await fs.promises.open(this.file, 'a', 0o600);
    try {
      await handle.appendFile(`${JSON.stringify(checkpoint)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async readAll(): Promise<unknown[]> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        try {
          return JSON.parse(l) as unknown;
        } catch {
          return null;
        }
      });
  }
}

export interface AuditTrailVerification extends AuditVerification {
  /** the HMAC key the chain is verified with (its public id) */
  keyId: string;
  checkpoints: {
    /** checkpoints read from the stores */
    found: number;
    /** of which signed by govx's key */
    valid: number;
    /** found but not signed by govx's key (forged or damaged): ignored */
    invalid: number;
    /** the newest valid checkpoint the chain agrees with */
    latestAgreed: { seq: number; signedAt: string } | null;
    sources: string[];
  };
}

/**
 * Verifies the chain with the audit key, then against every valid checkpoint: an entry a checkpoint covers
 * must hash to what the checkpoint signed, and the chain must reach the newest checkpoint's seq.
 */
export async function verifyAuditTrail(
  pool: Pool,
  opts: { keyring: Keyring; stores: CheckpointStore[]; publicKey?: KeyObject; batchSize?: number },
): Promise<AuditTrailVerification> {
  const chainKey = auditChainKeyOf(opts.keyring);
  const publicKey = opts.publicKey ?? opts.keyring.verifyKey;
  const raw: unknown[] = [];
  for (const store of opts.stores) raw.push(...(await store.readAll()));
  const valid = raw.map((v) => checkCheckpoint(v, publicKey)).filter((c): c is SignedCheckpoint => c !== null && c.statement.keyId === chainKey.id);
  const invalid = raw.length - raw.map((v) => checkCheckpoint(v, publicKey)).filter((c) => c !== null).length;
  valid.sort((a, b) => a.statement.seq - b.statement.seq || a.statement.signedAt.localeCompare(b.statement.signedAt));
  const keyedFroms = valid.map((c) => c.statement.keyedFrom).filter((k): k is number => k !== null);
  const wanted = new Set(valid.map((c) => c.statement.seq));
  const seen = new Map<number, string>();
  const chain = await verifyAuditChain(pool, {
    key: chainKey,
    batchSize: opts.batchSize,
    keyedFrom: keyedFroms.length ? Math.min(...keyedFroms) : null,
    onEntry: (seq, hash) => {
      if (wanted.has(seq)) seen.set(seq, hash);
    },
  });
  const report = (r: AuditVerification, latestAgreed: AuditTrailVerification['checkpoints']['latestAgreed']): AuditTrailVerification => ({
    ...r,
    keyId: chainKey.id,
    checkpoints: { found: raw.length, valid: valid.length, invalid, latestAgreed, sources: opts.stores.map((s) => s.name) },
  });
  let agreed: { seq: number; signedAt: string } | null = null;
  for (const c of valid) {
    const { seq, hash, signedAt } = c.statement;
    // a break found by the chain itself before this checkpoint is the first disagreement
    if (!chain.ok && chain.firstBroken!.seq <= seq) return report(chain, agreed);
    const end = chain.lastSeq ?? 0;
    if (seq > end) {
      return report(
        {
          ok: false,
          checked: chain.checked,
          lastSeq: chain.lastSeq,
          firstBroken: {
            seq: end + 1,
            reason: `missing: the checkpoint signed at ${signedAt} covers entries up to ${seq}, but the chain ends at ${end}: entries ${end + 1}..${seq} were removed`,
          },
        },
        agreed,
      );
    }
    if (seen.get(seq) !== hash) {
      const from = (agreed?.seq ?? 0) + 1;
      return report(
        {
          ok: false,
          checked: Math.min(chain.checked, from - 1),
          lastSeq: from - 1 === 0 ? null : from - 1,
          firstBroken: {
            seq: from,
            reason: `checkpoint mismatch: entry ${seq} does not hash to what the checkpoint signed at ${signedAt} says, so the entries after ${from - 1} up to ${seq} were rewritten`,
          },
        },
        agreed,
      );
    }
    agreed = { seq, signedAt };
  }
  return report(chain, agreed);
}

/** Signs the chain head at an interval when it moved since the last checkpoint (and on demand through `now`). */
export class AuditCheckpointer {
  private timer: NodeJS.Timeout | null = null;
  private lastSeq = 0;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly deps: { pool: Pool; keyring: Keyring; stores: CheckpointStore[]; log: Logger },
    private readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.intervalMs <= 0) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick().finally(() => (this.running = null));
    }, this.intervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      const head = await chainHead(this.deps.pool);
      if (!head || head.seq <= this.lastSeq) return;
      await this.now();
    } catch (err) {
      this.deps.log.error({ err: errorMessage(err) }, 'audit checkpoint failed');
    }
  }

  async now(): Promise<SignedCheckpoint | null> {
    const checkpoint = await takeCheckpoint(this.deps);
    if (checkpoint) {
      this.lastSeq = checkpoint.statement.seq;
      this.deps.log.info({ seq: checkpoint.statement.seq, stores: this.deps.stores.map((s) => s.name) }, 'audit checkpoint signed');
    }
    return checkpoint;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
