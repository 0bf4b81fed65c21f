-- The complete, anchored audit trail (issue 12, items 4-6; decision 0011).

-- Which key made an entry's hash: the id of the HMAC key (lib/keyring.ts, derived from the master key
-- outside the database), or NULL for an entry hashed before keyed hashing existed (plain sha256). Verification
-- accepts unkeyed entries only before the first keyed one and before the first signed checkpoint's
-- `keyedFrom`, so rewriting the chain as "old" entries is detected too.
ALTER TABLE audit_log ADD COLUMN hash_key text CHECK (hash_key ~ '^[0-9a-f]{12}$');

-- The Kafka records each receipt covers, written in the same transaction as the receipt's audit entry
-- (catalog/receipts.ts). A publish.batch or a delivery.receipt on channel kafka says "these offsets of this
-- topic are accounted for"; the reconciler compares these ranges with what Kafka holds.
CREATE TABLE audit_receipt_ranges (
  topic        text   NOT NULL CHECK (length(topic) BETWEEN 1 AND 249),
  "partition"  int    NOT NULL CHECK ("partition" >= 0),
  from_offset  bigint NOT NULL CHECK (from_offset >= 0),
  to_offset    bigint NOT NULL CHECK (to_offset >= from_offset),
  -- no foreign key: it would turn audit_log's append-only TRUNCATE refusal into a different error
  audit_seq    bigint NOT NULL,
  PRIMARY KEY (topic, "partition", from_offset, audit_seq)
);
CREATE INDEX audit_receipt_ranges_to ON audit_receipt_ranges (topic, "partition", to_offset);

-- Per topic partition, the offset below which every record Kafka holds is covered by a receipt: the
-- reconciler starts from here, so each run looks only at what is new.
CREATE TABLE audit_receipt_watermarks (
  topic        text   NOT NULL,
  "partition"  int    NOT NULL,
  covered_to   bigint NOT NULL CHECK (covered_to >= 0),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, "partition")
);

-- Publish receipts written before this migration list their offsets in details.offsets: their ranges count.
INSERT INTO audit_receipt_ranges (topic, "partition", from_offset, to_offset, audit_seq)
SELECT a.details->>'topic', (o->>'partition')::int, (o->>'baseOffset')::bigint,
       (o->>'baseOffset')::bigint + (o->>'count')::bigint - 1, a.seq
  FROM audit_log a, jsonb_array_elements(a.details->'offsets') AS o
 WHERE a.action = 'publish.batch' AND a.details ? 'topic' AND jsonb_typeof(a.details->'offsets') = 'array'
   AND (o->>'count')::bigint > 0
ON CONFLICT DO NOTHING;
