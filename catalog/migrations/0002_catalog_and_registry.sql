-- The sharing catalog (GB/T 21063 core metadata) and the Avro schema registry it points at.

CREATE TABLE datasets (
  id                 text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$' AND length(id) <= 100),
  title_zh           text NOT NULL,
  title_en           text NOT NULL,
  owner              text NOT NULL REFERENCES departments(id),
  category           text NOT NULL CHECK (category IN ('population', 'legal-entity', 'natural-resources-geospatial',
                       'macro-economy', 'credit', 'electronic-license', 'social-services', 'other')),
  abstract           text NOT NULL DEFAULT '',
  fields             jsonb NOT NULL,
  sharing_type       text NOT NULL CHECK (sharing_type IN ('unconditional', 'conditional', 'none')),
  sharing_conditions text,
  legal_basis        text,
  update_cycle       text NOT NULL CHECK (update_cycle IN ('realtime', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly')),
  key_field          text NOT NULL,
  status             text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'deprecated', 'retired')),
  schema_subject     text NOT NULL UNIQUE,
  version            integer NOT NULL DEFAULT 1,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT none_requires_legal_basis CHECK (sharing_type <> 'none' OR coalesce(length(trim(legal_basis)), 0) > 0)
);
CREATE INDEX datasets_owner ON datasets (owner);
CREATE INDEX datasets_category ON datasets (category);

-- Every version of every dataset's catalog entry, including the current one.
CREATE TABLE dataset_history (
  dataset_id  text NOT NULL REFERENCES datasets(id),
  version     integer NOT NULL,
  snapshot    jsonb NOT NULL,
  change      text NOT NULL CHECK (change IN ('created', 'updated')),
  changed_by  text NOT NULL,
  request_id  text,
  changed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dataset_id, version)
);

-- Registry: a schema is stored once (by canonical form) and gets one global id; subjects hold versions of ids.
CREATE TABLE registry_schemas (
  id           serial PRIMARY KEY,
  schema_type  text NOT NULL DEFAULT 'AVRO',
  schema       text NOT NULL,
  canonical    text NOT NULL,
  fingerprint  text NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE registry_subject_versions (
  subject     text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
  version     integer NOT NULL CHECK (version > 0),
  schema_id   integer NOT NULL REFERENCES registry_schemas(id),
  deleted     boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subject, version)
);
CREATE INDEX registry_subject_versions_schema ON registry_subject_versions (schema_id);

-- Compatibility level: subject '' is the global default.
CREATE TABLE registry_config (
  subject        text PRIMARY KEY,
  compatibility  text NOT NULL CHECK (compatibility IN ('BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD',
                   'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE', 'NONE'))
);
INSERT INTO registry_config (subject, compatibility) VALUES ('', 'BACKWARD');
