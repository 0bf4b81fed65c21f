-- Departments' Kafka credentials (decision 0014). The secret itself lives only at the broker, as the salted
-- SCRAM-SHA-512 hash Kafka keeps; govx keeps only what was issued to whom and when. One row a department:
-- issuing again after a revocation reuses it (the audit trail keeps each issue, rotation and revocation).
CREATE TABLE kafka_credentials (
  department  text PRIMARY KEY REFERENCES departments(id),
  -- the SCRAM user name, dept.<department>; the broker's principal is User:<username>
  username    text NOT NULL UNIQUE CHECK (username = 'dept.' || department),
  mechanism   text NOT NULL DEFAULT 'SCRAM-SHA-512' CHECK (mechanism = 'SCRAM-SHA-512'),
  iterations  integer NOT NULL CHECK (iterations >= 4096),
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text NOT NULL,
  rotated_at  timestamptz,
  rotated_by  text,
  revoked_at  timestamptz,
  revoked_by  text
);
