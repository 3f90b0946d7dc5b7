-- Per-credential request rate limits on services (issue #11): `isogate create service NAME
-- --upstream URL --rate-limit 100/s`.
--
-- Shared like 0001-0004 and replayed like them (`spin up --sqlite @...` runs every file on
-- each start), so every statement is idempotent. SQLite cannot add a column only if it is
-- missing, so a service's limit is a row of its own table, read with the service in the same
-- query (a LEFT JOIN: no extra storage read), written (NULL: none) when the service is created
-- and cleared when it is deleted. A service without a row has no limit: every service created
-- before this migration.

CREATE TABLE IF NOT EXISTS isogate_service_rate_limits (
  service    TEXT PRIMARY KEY NOT NULL,   -- the service's name
  rate_limit TEXT                         -- requests per credential: '100/s', '20/m', '1000/h'; NULL: none
);

-- The counts, where the runtime cannot keep them in memory (Spin runs each request in a fresh
-- instance; Workers count in the isolate and never touch this table): one row per service and
-- credential, updated by one UPSERT per request to a service with a limit.
CREATE TABLE IF NOT EXISTS isogate_rate_counts (
  service    TEXT NOT NULL,
  client_id  TEXT NOT NULL,
  window_ms  INTEGER NOT NULL,            -- the window's length when counted
  window_end INTEGER NOT NULL,            -- its end, exclusive, unix ms
  hits       INTEGER NOT NULL,            -- requests counted in it
  PRIMARY KEY (service, client_id)
);

INSERT OR IGNORE INTO isogate_schema (version, name) VALUES (5, '0005_service_rate_limit');
