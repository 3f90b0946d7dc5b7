-- Stable user ids (issue #10): a service's policy and a credential refer to their user by an
-- id that is never given to anyone else, so deleting a user ends its access for good and a
-- user re-created under the same name starts with nothing. Also a per-credential right to
-- introspect other clients' tokens (RFC 7662 §4), an index for the per-credential revocation
-- bound, and a ledger of applied migrations.
--
-- Shared like 0001 and 0002: `wrangler d1 migrations apply` runs it once; Spin replays every
-- file on each `spin up --sqlite @...`, and the component applies what its ledger lacks. So
-- every statement is idempotent. SQLite cannot add a column only if it is missing, so the new
-- shapes are new tables, filled from the old ones in this file, which then drops the old
-- ones. (Replaying 0001 later re-creates them, empty but for root; replaying this file moves
-- root over if no user has that name, and drops them again.) No row is lost: every user,
-- service and credential is copied; revoked_tokens stays as it is.

CREATE TABLE IF NOT EXISTS isogate_users (
  id         INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: an id is never reused
  name       TEXT NOT NULL UNIQUE,
  enabled    INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL
);

INSERT OR IGNORE INTO isogate_users (name, enabled, created_at)
  SELECT name, enabled, created_at FROM users ORDER BY created_at, name;

CREATE TABLE IF NOT EXISTS isogate_services (
  name             TEXT PRIMARY KEY NOT NULL,
  upstream         TEXT NOT NULL,
  allowed_user_ids TEXT NOT NULL DEFAULT '[]', -- JSON array of user ids: the policy; empty = every user
  allowed_users    TEXT NOT NULL DEFAULT '[]', -- JSON array of their names when granted: display only
  created_at       INTEGER NOT NULL
);

-- A name in a policy with no user behind it (a user deleted before ids existed) becomes id 0,
-- which no user has: the service stays closed to it and to anyone later created under it.
INSERT OR IGNORE INTO isogate_services (name, upstream, allowed_user_ids, allowed_users, created_at)
  SELECT s.name, s.upstream,
    (SELECT json_group_array(COALESCE(u.id, 0)) FROM json_each(s.allowed_users) j
       LEFT JOIN isogate_users u ON u.name = j.value),
    s.allowed_users, s.created_at
  FROM services s;

CREATE TABLE IF NOT EXISTS isogate_credentials (
  client_id      TEXT PRIMARY KEY NOT NULL,
  name           TEXT NOT NULL UNIQUE,
  user_id        INTEGER NOT NULL,          -- isogate_users.id (0: its user was gone before this migration)
  user_name      TEXT NOT NULL,             -- the user's name: the tokens' `sub`, and display
  kind           TEXT NOT NULL,             -- 'oauth2' | 'access-token'
  secret_hash    TEXT,                      -- hex SHA-256 of the client secret (oauth2 only); never the secret
  scopes         TEXT NOT NULL DEFAULT '',  -- space-delimited ceiling of what tokens may reach; '' = no limit
  expires_at     INTEGER,                   -- unix seconds, NULL = never
  enabled        INTEGER NOT NULL DEFAULT 1,
  created_at     INTEGER NOT NULL,
  can_introspect INTEGER NOT NULL DEFAULT 0 -- 1: may introspect other clients' tokens (RFC 7662 §4)
);

CREATE INDEX IF NOT EXISTS isogate_credentials_by_user ON isogate_credentials (user_id);

INSERT OR IGNORE INTO isogate_credentials (client_id, name, user_id, user_name, kind, secret_hash,
    scopes, expires_at, enabled, created_at, can_introspect)
  SELECT c.client_id, c.name, COALESCE((SELECT u.id FROM isogate_users u WHERE u.name = c.user_name), 0),
    c.user_name, c.kind, c.secret_hash, c.scopes, c.expires_at, c.enabled, c.created_at, 0
  FROM credentials c;

DROP TABLE IF EXISTS credentials;
DROP TABLE IF EXISTS services;
DROP TABLE IF EXISTS users;

-- The per-credential bound on revocations counts a client's unexpired rows.
CREATE INDEX IF NOT EXISTS revoked_tokens_by_client ON revoked_tokens (client_id, expires_at);

-- Which migrations a database has: what the Spin component reads (one query) to know whether
-- it must apply any. D1's wrangler keeps its own list (d1_migrations) besides.
CREATE TABLE IF NOT EXISTS isogate_schema (
  version INTEGER PRIMARY KEY NOT NULL,
  name    TEXT NOT NULL
);

INSERT OR IGNORE INTO isogate_schema (version, name) VALUES
  (1, '0001_init'), (2, '0002_revoked_tokens'), (3, '0003_stable_user_ids');
