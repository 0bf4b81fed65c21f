-- Departments (the parties of the exchange) and their API keys. Only a SHA-256 hash of each key's secret is
-- stored; the secret itself is shown once, when the key is created.
CREATE TABLE departments (
  id          text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{1,62}$'),
  name_zh     text NOT NULL,
  name_en     text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('municipal-bureau', 'district-government', 'administrator')),
  -- highest field sensitivity (1-4) this department may receive in clear; the sharing policy reads it
  clearance   smallint NOT NULL DEFAULT 2 CHECK (clearance BETWEEN 1 AND 4),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{12}$'),
  department_id text NOT NULL REFERENCES departments(id),
  role          text NOT NULL CHECK (role IN ('publisher', 'consumer', 'steward', 'admin')),
  secret_sha256 bytea NOT NULL CHECK (octet_length(secret_sha256) = 32),
  label         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz
);
CREATE INDEX api_keys_department ON api_keys (department_id);

INSERT INTO departments (id, name_zh, name_en, kind, clearance) VALUES
  ('psb',           '市公安局',             'Public Security Bureau',                      'municipal-bureau',    4),
  ('amr',           '市市场监督管理局',     'Administration for Market Regulation',        'municipal-bureau',    3),
  ('planning',      '市规划和自然资源委员会', 'Planning and Natural Resources Commission',   'municipal-bureau',    3),
  ('civil-affairs', '市民政局',             'Civil Affairs Bureau',                        'municipal-bureau',    2),
  ('tax',           '市税务局',             'Tax Service',                                 'municipal-bureau',    3),
  ('statistics',    '市统计局',             'Statistics Bureau',                           'municipal-bureau',    1),
  ('haidian',       '海淀区人民政府',       'Haidian District Government',                 'district-government', 2),
  ('info-office',   '市政务服务和数据管理局', 'Government Services and Data Administration', 'administrator',       1);
