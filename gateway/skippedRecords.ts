import { appendAudit, type AuditActor } from '../catalog/audit';
import type { Pool } from '../lib/db';
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { GatewayMetrics } from '../lib/metrics';
import type { SkippedRecord, SkippedRecordReporter } from './httpDelivery';

const SYSTEM: AuditActor = { department: 'govx', keyId: null, role: 'system' };
/** Records already reported by this process; a consumer passing an old cursor again does not grow the trail. */
const REMEMBERED = 10_000;

/**
 * Counts each share record HTTP delivery stepped over (metric `govx_share_records_skipped_total`) and puts
 * it on the audit trail once per process as `delivery.skipped` (where it is and why, never its bytes), so
 * the owner of the subscription and the administrators can see that a record was not delivered.
 */
export function skippedRecordReporter(deps: { pool: Pool; metrics: GatewayMetrics; log: Logger }): SkippedRecordReporter {
  const reported = new Set<string>();
  return (skipped: SkippedRecord) => {
    deps.metrics.skippedShareRecords.inc({ channel: skipped.channel, error_class: skipped.errorClass });
    const id = `${skipped.subscription}/${skipped.partition}@${skipped.offset}`;
    if (reported.has(id)) return;
    if (reported.size >= REMEMBERED) reported.clear();
    reported.add(id);
    deps.log.warn({ subscription: skipped.subscription, partition: skipped.partition, offset: skipped.offset, errorClass: skipped.errorClass }, 'skipped an undecodable share record');
    void appendAudit(deps.pool, {
      actor: SYSTEM,
      action: 'delivery.skipped',
      target: `subscription:${skipped.subscription}`,
      outcome: 'failure',
      details: { ...skipped },
    }).catch((err: unknown) => {
      reported.delete(id);
      deps.log.warn({ err: errorMessage(err) }, 'could not audit a skipped share record');
    });
  };
}
