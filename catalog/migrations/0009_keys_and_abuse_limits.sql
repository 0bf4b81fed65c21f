-- API keys that can be revoked and rotated, and the shared state of the abuse limits, so that every gateway
-- process of one installation enforces the same limits (issue 11, docs/decisions/0012-*.md).

-- Who made a key, who revoked it, and which key replaced it when it was rotated.
ALTER TABLE api_keys
  ADD COLUMN created_by  text,
  ADD COLUMN revoked_by  text,
  ADD COLUMN replaced_by text REFERENCES api_keys(id);

-- Requests per key in one-second windows. A request counts once its key is verified (a wrong secret never
-- spends another key's budget). UNLOGGED: counts of the last seconds are worth no WAL, and a crash that
-- empties the table only forgives the last seconds.
CREATE UNLOGGED TABLE rate_limit_windows (
  key_id       text NOT NULL,
  window_start bigint NOT NULL,
  count        integer NOT NULL,
  PRIMARY KEY (key_id, window_start)
);

-- Denied requests (403, 429, and denials that answer 404) counted per key, interval and action. Gateways add
-- their counts every few seconds; a closed interval is moved into the audit chain as one entry per key.
CREATE TABLE denial_tallies (
  key_id         text NOT NULL,
  interval_start timestamptz NOT NULL,
  action         text NOT NULL CHECK (length(action) BETWEEN 1 AND 200),
  department     text NOT NULL,
  role           text,
  count          integer NOT NULL CHECK (count > 0),
  sample_target  text,
  first_request  text,
  PRIMARY KEY (key_id, interval_start, action)
);
CREATE INDEX denial_tallies_interval ON denial_tallies (interval_start);

-- Open SSE streams and pulls, per department, so a cap holds across gateways. A lease the gateway stops
-- renewing (it crashed) lapses at expires_at. UNLOGGED for the same reason as the rate windows.
CREATE UNLOGGED TABLE delivery_leases (
  id           text PRIMARY KEY,
  department   text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('stream', 'pull')),
  subscription text NOT NULL,
  expires_at   timestamptz NOT NULL
);
CREATE INDEX delivery_leases_department ON delivery_leases (department, kind, expires_at);
