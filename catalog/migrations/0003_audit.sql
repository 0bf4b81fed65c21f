-- The tamper-evident audit trail: a hash chain, one row per recorded action. Each row's hash covers its
-- content and the previous row's hash (see catalog/audit.ts for the canonical encoding), so editing,
-- deleting or re-ordering any row is detected by verifying the chain. The triggers below make the
-- table append-only for everyone who cannot disable triggers; the chain catches those who can.

CREATE TABLE audit_log (
  seq              bigint PRIMARY KEY CHECK (seq >= 1),
  -- written by the application with millisecond precision, because the hash covers the ISO string
  at               timestamptz NOT NULL,
  actor_department text NOT NULL,
  actor_key_id     text,
  actor_role       text,
  action           text NOT NULL CHECK (length(action) BETWEEN 1 AND 200),
  target           text NOT NULL CHECK (length(target) BETWEEN 1 AND 500),
  outcome          text NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
  request_id       text,
  details          jsonb NOT NULL DEFAULT '{}',
  prev_hash        text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash             text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);

CREATE INDEX audit_log_at ON audit_log (at);
-- (column, seq) so a filtered listing pages by the seq cursor straight from the index
CREATE INDEX audit_log_actor_department ON audit_log (actor_department, seq);
CREATE INDEX audit_log_target ON audit_log (target, seq);
-- text_pattern_ops: the action filter is a prefix (LIKE 'catalog.%'), which a plain index under a
-- non-C collation cannot serve
CREATE INDEX audit_log_action ON audit_log (action text_pattern_ops);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'record a new entry instead of changing or removing an old one';
END;
$$;

CREATE TRIGGER audit_log_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- A writer that bypasses catalog/audit.ts (or a bug in it) still cannot leave a gap or fork the chain:
-- every new row must follow the current last row. Concurrent inserts that both pass this check collide
-- on the primary key, so at most one of them commits.
CREATE FUNCTION audit_log_check_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  last_seq  bigint;
  last_hash text;
BEGIN
  SELECT seq, hash INTO last_seq, last_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
  IF last_seq IS NULL THEN
    last_seq := 0;
    last_hash := repeat('0', 64);
  END IF;
  IF NEW.seq <> last_seq + 1 OR NEW.prev_hash <> last_hash THEN
    RAISE EXCEPTION 'audit_log entry % does not follow the last entry % (expected seq % and its prev_hash)',
      NEW.seq, last_seq, last_seq + 1
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER audit_log_link
  BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_check_link();
