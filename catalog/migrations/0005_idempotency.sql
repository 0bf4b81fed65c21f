-- Idempotency keys of publish requests: a retried request with the same Idempotency-Key (per department and
-- dataset) gets the first answer back instead of publishing twice. A row is `in_flight` while its request
-- runs (a lease, so a crashed gateway's claim can be taken over after `locked_until`) and `done` with the
-- answer once it finished. Rows past `expires_at` are swept by the gateway and may be claimed again.

CREATE TABLE publish_idempotency (
  department      text NOT NULL,
  dataset         text NOT NULL,
  idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  fingerprint     text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  state           text NOT NULL CHECK (state IN ('in_flight', 'done')),
  status          integer CHECK (status BETWEEN 100 AND 599),
  response        jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  locked_until    timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (department, dataset, idempotency_key),
  CHECK (state = 'in_flight' OR (status IS NOT NULL AND response IS NOT NULL))
);

CREATE INDEX publish_idempotency_expires_at ON publish_idempotency (expires_at);
