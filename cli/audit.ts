import crypto from 'node:crypto';
import fs from 'node:fs';
import { Command } from 'commander';
import { type CheckpointStore, FileCheckpointStore, KafkaCheckpointStore, takeCheckpoint, verifyAuditTrail } from '../catalog/auditCheckpoints';
import { loadConfig } from '../lib/config';
import type { Pool } from '../lib/db';
import { GovxError } from '../lib/errors';
import { createKafka } from '../lib/kafka';
import { kafkajsPort } from '../lib/kafkaPort';
import { Keyring } from '../lib/keyring';
import { createLogger } from '../lib/logger';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** The keyring and the checkpoint stores the configuration names, plus any extra checkpoint files. */
function evidence(extraFiles: string[], kafka: boolean): { keyring: Keyring; stores: CheckpointStore[] } {
  const config = loadConfig();
  const keyring = Keyring.open({ keysDir: config.keysDir, masterKeyBase64: config.masterKey });
  const stores: CheckpointStore[] = [];
  if (kafka) {
    const port = kafkajsPort(createKafka(config, createLogger(process.env.GOVX_LOG_LEVEL ?? 'warn', 'govx-cli'), 'cli'));
    stores.push(new KafkaCheckpointStore(port, config.auditCheckpointTopic, config.topicReplicationFactor));
  }
  for (const file of [...(config.auditCheckpointFile ? [config.auditCheckpointFile] : []), ...extraFiles]) stores.push(new FileCheckpointStore(file));
  return { keyring, stores };
}

/** `govx audit verify|checkpoint|public-key`: on the database directly, with the keys kept outside it. */
export function auditCommand(withDatabase: <T>(fn: (pool: Pool) => Promise<T>) => Promise<T>): Command {
  const audit = new Command('audit').description('the tamper-evident audit trail');
  audit
    .command('verify')
    .description('check the keyed hash chain against the signed checkpoints (Kafka, files) and name the first entry where they disagree')
    .option('--checkpoint-file <file...>', 'also read checkpoints from these files (JSON lines)')
    .option('--public-key <pem>', 'verify checkpoint signatures with this Ed25519 public key instead of the keyring')
    .option('--no-kafka', 'do not read the checkpoint topic')
    .option('--json', 'print the whole verification as JSON')
    .action(async (o: { checkpointFile?: string[]; publicKey?: string; kafka: boolean; json?: boolean }) => {
      const { keyring, stores } = evidence(o.checkpointFile ?? [], o.kafka);
      let publicKey: crypto.KeyObject | undefined;
      if (o.publicKey) {
        try {
          publicKey = crypto.createPublicKey(fs.readFileSync(o.publicKey));
        } catch (err) {
          throw new GovxError(400, 'cli.invalid_public_key', `cannot read an Ed25519 public key from ${o.publicKey}: ${(err as Error).message}`);
        }
      }
      const r = await withDatabase((pool) => verifyAuditTrail(pool, { keyring, stores, publicKey }));
      if (o.json) out(JSON.stringify(r, null, 2));
      const anchored = r.checkpoints.latestAgreed ? `, anchored by the checkpoint of entry #${r.checkpoints.latestAgreed.seq} signed at ${r.checkpoints.latestAgreed.signedAt}` : ', no checkpoint found';
      const ignored = r.checkpoints.invalid > 0 ? ` (${r.checkpoints.invalid} checkpoint(s) with a bad signature ignored)` : '';
      if (r.ok) {
        if (!o.json) out(`audit chain intact: ${r.checked} entries verified with audit key ${r.keyId}${r.lastSeq === null ? '' : `, last #${r.lastSeq}`}${anchored}${ignored}`);
      } else {
        if (!o.json) out(`audit chain BROKEN at entry #${r.firstBroken?.seq}: ${r.firstBroken?.reason} (${r.checked} entries checked${ignored})`);
        process.exitCode = 1;
      }
    });
  audit
    .command('checkpoint')
    .description('sign the chain head now and write it to the checkpoint topic (and file)')
    .action(async () => {
      const { keyring, stores } = evidence([], true);
      const c = await withDatabase((pool) => takeCheckpoint({ pool, keyring, stores }));
      out(c ? `checkpoint of entry #${c.statement.seq} (${c.statement.hash}) signed at ${c.statement.signedAt}, written to ${stores.map((s) => s.name).join(', ')}` : 'the audit chain is empty: nothing to sign');
    });
  audit
    .command('public-key')
    .description('print the Ed25519 public key that verifies checkpoints (give it to auditors)')
    .action(() => {
      const { keyring } = evidence([], false);
      process.stdout.write(keyring.verifyKey.export({ type: 'spki', format: 'pem' }) as string);
    });
  return audit;
}
