-- Connectors (connectors/): definitions submitted over /v1/connectors, what the workers report about them,
-- and the source offsets that let a restarted source resume where it left off. Sink offsets are not here:
-- sinks commit them to their Kafka consumer group (govx-connect-<name>) once a write is durable.

CREATE TABLE connectors (
  name            text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
  connector_class text NOT NULL,
  -- the department the connector acts for: a source's dataset owner, a sink's consumer
  owner           text NOT NULL REFERENCES departments(id),
  -- as submitted (strings, Kafka Connect style), secrets included: the API masks them on the way out
  config          jsonb NOT NULL,
  desired_state   text NOT NULL DEFAULT 'RUNNING' CHECK (desired_state IN ('RUNNING', 'PAUSED')),
  -- bumped by every config change and restart, so workers restart the task and a failure is forgotten
  generation      integer NOT NULL DEFAULT 1,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connectors_owner ON connectors (owner);

-- Totals and the last failure, one row per connector, shared by every worker running it.
CREATE TABLE connector_status (
  name              text PRIMARY KEY REFERENCES connectors(name) ON DELETE CASCADE,
  records_in        bigint NOT NULL DEFAULT 0,
  records_out       bigint NOT NULL DEFAULT 0,
  records_dead      bigint NOT NULL DEFAULT 0,
  last_error        text,
  last_error_at     timestamptz,
  -- set when the connector FAILED in this generation; workers leave it alone until resume or a new config
  failed_generation integer,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- One row per worker running a task of the connector, refreshed by the worker's heartbeat.
CREATE TABLE connector_tasks (
  name         text NOT NULL REFERENCES connectors(name) ON DELETE CASCADE,
  worker_id    text NOT NULL,
  state        text NOT NULL CHECK (state IN ('RUNNING', 'PAUSED', 'FAILED')),
  lag          bigint,
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, worker_id)
);

-- Source positions (a table's last (timestamp, id); a file's progress), written only after the records up
-- to them were acknowledged by Kafka (acks=all).
CREATE TABLE connector_offsets (
  name         text NOT NULL REFERENCES connectors(name) ON DELETE CASCADE,
  partition    text NOT NULL,
  position     jsonb NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, partition)
);
