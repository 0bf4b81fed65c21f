-- Issue 11: connectors confined to what an administrator allowed for their department; secrets sealed.

-- Where a department's connectors may connect, set by administrators only. Entries are addresses, CIDR
-- blocks (canonical: a.b.c.d/n, v6/n) or DNS names; databases are names. No row: nothing is allowed.
CREATE TABLE connector_targets (
  department             text PRIMARY KEY REFERENCES departments(id) ON DELETE CASCADE,
  postgres_hosts         text[] NOT NULL DEFAULT '{}' CHECK (cardinality(postgres_hosts) <= 100),
  postgres_databases     text[] NOT NULL DEFAULT '{}' CHECK (cardinality(postgres_databases) <= 100),
  webhook_hosts          text[] NOT NULL DEFAULT '{}' CHECK (cardinality(webhook_hosts) <= 100),
  allow_private_webhooks boolean NOT NULL DEFAULT false,
  updated_by             text NOT NULL,
  updated_at             timestamptz NOT NULL DEFAULT now()
);

-- A connector's full config sealed with the keyring (lib/keyring.ts; the key is not in this database);
-- `config` then holds it with every secret replaced by a mask. NULL: not sealed yet (sealed at start-up).
ALTER TABLE connectors ADD COLUMN sealed_config text;

-- Department webhook secrets are stored sealed ("sealed:v1:…"), longer than the secret itself.
ALTER TABLE notification_webhooks DROP CONSTRAINT IF EXISTS notification_webhooks_secret_check;
ALTER TABLE notification_webhooks ADD CONSTRAINT notification_webhooks_secret_check CHECK (length(secret) BETWEEN 16 AND 2000);
