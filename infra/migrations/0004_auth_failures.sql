-- Failed client authentications, counted per key, so that guessing is throttled on every
-- isolate and instance of a deployment alike (README, "Throttling and rate limits"; the rule
-- is core/src/throttle.rs). Read with the credential in the token endpoint's one read; one
-- batch per failure prunes the rows that say nothing any more and counts the failure.
-- Idempotent, like every migration here (Spin replays them).

CREATE TABLE IF NOT EXISTS isogate_auth_failures (
  key          TEXT PRIMARY KEY NOT NULL, -- 'c|<address>|<client id>', 'a|<address>', 'i|<client id>', 'm|<address>' (admin API)
  window_start INTEGER NOT NULL,          -- unix ms: start of the current window (after a lockout: its end)
  failures     INTEGER NOT NULL,          -- failures in the current window
  strikes      INTEGER NOT NULL,          -- lockouts not yet forgiven: the next lasts window x 2^strikes
  locked_until INTEGER NOT NULL,          -- unix ms; 0: never locked
  expires_at   INTEGER NOT NULL           -- unix ms after which the row says nothing: pruned
);

CREATE INDEX IF NOT EXISTS isogate_auth_failures_by_expiry ON isogate_auth_failures (expires_at);

INSERT OR IGNORE INTO isogate_schema (version, name) VALUES (4, '0004_auth_failures');
