-- Policy that holds under pressure (issue 12, decision 0016).
--
-- The masking key leaves the database: keyed hashes now use a key per dataset and field, derived with HKDF
-- from the master key that lib/keyring.ts keeps outside PostgreSQL (GOVX_KEYS_DIR / GOVX_MASTER_KEY), so a
-- dump of the database no longer holds what recomputes a citizen's pseudonym.
DROP TABLE IF EXISTS govx_secrets;

-- Every transition is a compare-and-set on (status, version); `version` already exists (0004). A paused
-- subscription remembers where on the dataset topic its delivery stopped, and a re-approval copies from
-- there up to where live delivery starts again (the backfill's lower bound; null: the topic's beginning).
ALTER TABLE subscriptions
  ADD COLUMN paused_offsets jsonb,
  ADD COLUMN backfill_from  jsonb;
