import { Command } from 'commander';
import { KafkaAccess } from '../catalog/kafkaAccess';
import {
  createKafkaCredentials,
  getKafkaCredentials,
  type IssuedKafkaCredential,
  type KafkaCredentialInfo,
  type KafkaCredentialsDeps,
  revokeKafkaCredentials,
  rotateKafkaCredentials,
} from '../catalog/kafkaCredentials';
import type { KeyManager } from '../catalog/keyService';
import { loadConfig } from '../lib/config';
import type { Pool } from '../lib/db';
import { createKafka } from '../lib/kafka';
import { kafkajsAclAdmin } from '../lib/kafkaAcls';
import { createLogger } from '../lib/logger';
import { BrokerScramCredentials } from '../lib/scramCredentials';

type WithDatabase = <T>(fn: (pool: Pool) => Promise<T>) => Promise<T>;

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** Runs `fn` as the installation's operator, with the broker's credential tool and ACL admin, closing both after. */
async function asOperator<T>(withDatabase: WithDatabase, fn: (deps: KafkaCredentialsDeps, m: KeyManager) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = createLogger(process.env.GOVX_LOG_LEVEL ?? 'warn', 'govx-cli');
  return withDatabase(async (pool) => {
    const scram = new BrokerScramCredentials(config, log);
    const acls = kafkajsAclAdmin(createKafka(config, log, 'cli'));
    try {
      const deps: KafkaCredentialsDeps = { pool, scram, access: new KafkaAccess({ pool, acls, log }), bootstrapServers: config.kafkaDepartmentBrokers, log };
      return await fn(deps, { kind: 'operator' });
    } finally {
      await scram.close();
      await acls.close();
    }
  });
}

function connection(c: KafkaCredentialInfo): string[] {
  return [
    `  bootstrap servers  ${c.bootstrapServers.join(',')}`,
    `  security           ${c.securityProtocol}, SASL mechanism ${c.mechanism} (verify the broker with the CA file you were given)`,
    `  user name          ${c.username}`,
    `  consumer groups    ${c.groupPrefix}<anything>`,
  ];
}

function printIssued(c: IssuedKafkaCredential, verb: string, json: boolean): void {
  if (json) return out(JSON.stringify(c));
  out(`${verb} Kafka credentials of ${c.department} (principal ${c.principal}); the password is shown only now:`);
  out(c.password);
  for (const line of connection(c)) out(line);
}

/** `govx kafka credentials create|rotate|revoke|show --department D`: on the database and the broker, as the operator (audited). */
export function kafkaCredentialsCommand(withDatabase: WithDatabase): Command {
  const kafka = new Command('kafka').description("departments' Kafka access (on the database and the broker, as the operator; audited)");
  const credentials = kafka.command('credentials').description("a department's SCRAM-SHA-512 credentials for reading its share topics from Kafka");
  credentials
    .command('create')
    .description("issue a department's Kafka credentials; the password is printed once")
    .requiredOption('--department <id>', 'department id, e.g. civil-affairs')
    .option('--json', 'print the credentials, with the password, as JSON', false)
    .action(async (o: { department: string; json: boolean }) => {
      printIssued(await asOperator(withDatabase, (deps, m) => createKafkaCredentials(deps, m, o.department)), 'issued', o.json);
    });
  credentials
    .command('rotate')
    .description('a new password for a department\'s live Kafka credentials, printed once; the old one stops authenticating')
    .requiredOption('--department <id>', 'department id')
    .option('--json', 'print the credentials, with the new password, as JSON', false)
    .action(async (o: { department: string; json: boolean }) => {
      printIssued(await asOperator(withDatabase, (deps, m) => rotateKafkaCredentials(deps, m, o.department)), 'rotated', o.json);
    });
  credentials
    .command('revoke')
    .description("revoke a department's Kafka credentials: deleted at the broker, every ACL of its principal withdrawn")
    .requiredOption('--department <id>', 'department id')
    .option('--json', 'print the revoked credentials as JSON', false)
    .action(async (o: { department: string; json: boolean }) => {
      const revoked = await asOperator(withDatabase, (deps, m) => revokeKafkaCredentials(deps, m, o.department));
      if (o.json) out(JSON.stringify(revoked));
      else out(`revoked Kafka credentials of ${revoked.department} (principal ${revoked.principal}) at ${revoked.revokedAt}`);
    });
  credentials
    .command('show')
    .description("a department's Kafka credentials (never the password): status, dates, how to connect")
    .requiredOption('--department <id>', 'department id')
    .option('--json', 'print them as JSON', false)
    .action(async (o: { department: string; json: boolean }) => {
      const bootstrapServers = loadConfig().kafkaDepartmentBrokers;
      const c = await withDatabase((pool) => getKafkaCredentials({ pool, bootstrapServers }, { kind: 'operator' }, o.department));
      if (o.json) return out(JSON.stringify(c));
      out(`${c.department}: ${c.status}, issued ${c.createdAt}${c.rotatedAt ? `, rotated ${c.rotatedAt}` : ''}${c.revokedAt ? `, revoked ${c.revokedAt}` : ''}`);
      for (const line of connection(c)) out(line);
    });
  return kafka;
}
