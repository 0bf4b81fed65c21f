-- Subscriptions: a consuming department's request for some of a dataset's fields, for a purpose, until a
-- date, and the owner's decision on it. An approved subscription carries what the distributor needs:
-- the per-field delivery (clear / hash / partial), the derived schema registered for it and the offsets of
-- the dataset topic at approval, which split "history" (backfill) from "live" delivery.
CREATE TABLE subscriptions (
  id                 text PRIMARY KEY CHECK (id ~ '^sub-[a-z0-9]{20}$'),
  dataset_id         text NOT NULL REFERENCES datasets(id),
  consumer           text NOT NULL REFERENCES departments(id),
  requested_fields   text[] NOT NULL CHECK (cardinality(requested_fields) > 0),
  purpose            text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 2000),
  legal_basis        text,
  requested_until    timestamptz NOT NULL,
  delivery           text NOT NULL CHECK (delivery IN ('kafka', 'http', 'connector')),
  start_from         text NOT NULL CHECK (start_from IN ('earliest', 'latest')),
  status             text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'refused', 'revoked', 'expired', 'paused')),
  status_reason      text,
  -- the decision
  approved_fields    jsonb,           -- [{name, delivery: clear|hash|partial}]
  expires_at         timestamptz,
  decided_by         text,
  decided_at         timestamptz,
  dataset_schema_id  integer REFERENCES registry_schemas(id),
  derived_subject    text,
  derived_schema_id  integer REFERENCES registry_schemas(id),
  start_offsets      jsonb,           -- {"<partition>": "<offset>"} of the dataset topic at approval
  backfill_done      boolean NOT NULL DEFAULT false,
  -- HTTP pull: the position the consumer committed by passing its cursor back
  http_cursor        jsonb,
  version            integer NOT NULL DEFAULT 1,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_dataset_status ON subscriptions (dataset_id, status);
CREATE INDEX subscriptions_consumer ON subscriptions (consumer);

-- Secrets govx generates for itself (the masking key), created once and shared by every process.
CREATE TABLE govx_secrets (
  name       text PRIMARY KEY,
  value      bytea NOT NULL CHECK (octet_length(value) >= 32),
  created_at timestamptz NOT NULL DEFAULT now()
);
