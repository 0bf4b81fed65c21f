-- Console sessions (issue 13, docs/decisions/0009-console.md). A browser holds only an opaque random id in an
-- HttpOnly cookie; the row, found by the id's SHA-256, says who it is. Signing out or expiry deletes the row, so a
-- copied cookie dies with it. A session opened with an API key lives only as long as that key (checked on every
-- request); one opened through OpenID Connect carries the department and role its claims mapped to.
CREATE TABLE console_sessions (
  id_sha256     bytea PRIMARY KEY CHECK (octet_length(id_sha256) = 32),
  department_id text NOT NULL REFERENCES departments(id),
  role          text NOT NULL CHECK (role IN ('publisher', 'consumer', 'steward', 'admin')),
  -- who signed in: 'key:<key id>' or 'oidc:<subject>' (the issuer is the configured one)
  subject       text NOT NULL CHECK (length(subject) BETWEEN 1 AND 300),
  display_name  text CHECK (length(display_name) <= 200),
  method        text NOT NULL CHECK (method IN ('api-key', 'oidc')),
  key_id        text REFERENCES api_keys(id),
  csrf_token    text NOT NULL CHECK (length(csrf_token) >= 32),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  CHECK ((method = 'api-key') = (key_id IS NOT NULL))
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- OpenID Connect sign-ins under way: the state (the browser's handle on it), the nonce and the PKCE verifier,
-- kept server-side for a few minutes between the redirect to the provider and the callback; used once.
CREATE TABLE console_login_flows (
  state         text PRIMARY KEY CHECK (length(state) BETWEEN 32 AND 128),
  nonce         text NOT NULL,
  code_verifier text NOT NULL,
  return_to     text NOT NULL CHECK (length(return_to) <= 500),
  expires_at    timestamptz NOT NULL
);
CREATE INDEX console_login_flows_expires ON console_login_flows (expires_at);
