import { type AuditEntryInput, appendAudit, appendAuditBatch } from '../catalog/audit';
import type { Pool } from '../lib/db';

interface Waiting {
  entry: AuditEntryInput;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Audit entries of concurrent publish requests, appended together: while one transaction appends, the entries
 * that arrive wait and go into the next one. The chain lock is taken and the transaction committed once per
 * group instead of once per request, which under load was most of a publish request's time outside Kafka.
 * Each entry is still its own hash-chained row; a caller resolves only once its entry is committed.
 */
export class AuditGroupCommit {
  private readonly queue: Waiting[] = [];
  private draining = false;

  constructor(
    private readonly pool: Pool,
    private readonly maxGroup = 100,
  ) {}

  append(entry: AuditEntryInput): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, this.maxGroup);
        try {
          await appendAuditBatch(this.pool, group.map((w) => w.entry));
          for (const w of group) w.resolve();
        } catch {
          // One bad entry must not take the others down: append them one by one, each with its own outcome.
          for (const w of group) await appendAudit(this.pool, w.entry).then(() => w.resolve(), w.reject);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
