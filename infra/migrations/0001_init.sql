-- Isogate schema, shared by Cloudflare D1 (`wrangler d1 migrations apply`) and Spin SQLite
-- (`spin up --sqlite @infra/migrations/0001_init.sql`, and applied by the component itself on
-- first use). Every statement is idempotent so it can be replayed safely.

CREATE TABLE IF NOT EXISTS users (
  name       TEXT PRIMARY KEY NOT NULL,
  enabled    INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL           -- unix seconds
);

CREATE TABLE IF NOT EXISTS services (
  name          TEXT PRIMARY KEY NOT NULL,
  upstream      TEXT NOT NULL,          -- origin base URL, e.g. http://127.0.0.1:9000
  allowed_users TEXT NOT NULL DEFAULT '[]', -- JSON array of user names; empty = every user
  created_at    INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS credentials (
  client_id   TEXT PRIMARY KEY NOT NULL,
  name        TEXT NOT NULL UNIQUE,
  user_name   TEXT NOT NULL,
  kind        TEXT NOT NULL,            -- 'oauth2' | 'access-token'
  secret_hash TEXT,                     -- hex SHA-256 of the client secret (oauth2 only); never the secret
  scopes      TEXT NOT NULL DEFAULT '', -- space-delimited ceiling of what tokens may reach; '' = no limit
  expires_at  INTEGER,                  -- unix seconds, NULL = never
  enabled     INTEGER NOT NULL DEFAULT 1,
  created_at  INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS credentials_by_user ON credentials (user_name);

-- The first user; `isogate create cred --user root ...` works right after set-up.
INSERT OR IGNORE INTO users (name, enabled, created_at) VALUES ('root', 1, 0);
