-- Sharing KPIs and monitoring (issue 14): the division each department serves, where each department wants
-- its alerts, the alerts themselves, and the reply deadline of each conditional request.

-- GB/T 2260 code of the area a department serves, named in reports (municipal bureaus: the city).
ALTER TABLE departments ADD COLUMN division_code text CHECK (division_code ~ '^[0-9]{6}$');
UPDATE departments SET division_code = CASE WHEN id = 'haidian' THEN '110108' ELSE '110000' END;

-- A department's alert webhook: govx POSTs each alert there, signed with HMAC-SHA256 of `<timestamp>.<body>`
-- under this secret (header X-Govx-Signature: t=<unix>,v1=<hex>), as the http-sink signs its batches.
CREATE TABLE notification_webhooks (
  department  text PRIMARY KEY REFERENCES departments(id),
  url         text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
  secret      text NOT NULL CHECK (length(secret) BETWEEN 16 AND 200),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Alerts raised by the sharing monitor. An alert is open until cleared; at most one is open per kind, subject
-- and occasion, which is what lets several gateways check at once and still notify once.
CREATE TABLE monitoring_alerts (
  id          bigserial PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('freshness', 'reply_reminder', 'reply_deadline', 'access_anomaly')),
  -- dataset:<id> or subscription:<id>
  subject     text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
  -- what distinguishes two alerts of one kind on one subject: '' for a condition that is on or off, the
  -- rule and day of an access anomaly
  occasion    text NOT NULL DEFAULT '',
  -- the owner department told about it
  department  text NOT NULL REFERENCES departments(id),
  raised_at   timestamptz NOT NULL,
  cleared_at  timestamptz,
  details     jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX monitoring_alerts_open ON monitoring_alerts (kind, subject, occasion) WHERE cleared_at IS NULL;
CREATE INDEX monitoring_alerts_department ON monitoring_alerts (department, raised_at);

-- The due date of a conditional request, fixed when govx first sees the request, so a later change of the
-- deadline setting or the calendar does not move a deadline already running.
CREATE TABLE reply_deadlines (
  subscription_id  text PRIMARY KEY REFERENCES subscriptions(id),
  requested_at     timestamptz NOT NULL,
  working_days     integer NOT NULL CHECK (working_days > 0),
  -- the last working day (in China) on which a decision is in time
  due_on           date NOT NULL
);

-- The KPIs read receipts by action and time, and subscriptions' audit entries by target.
CREATE INDEX audit_log_action_at ON audit_log (action text_pattern_ops, at);
