-- Secretless upstream credentials (issue #13.1): `isogate create service NAME --upstream URL
-- --upstream-auth bearer:SECRET_NAME` (or basic:, header:Name:, oauth2-client-credentials:).
--
-- Shared like 0001-0005 and replayed like them (`spin up --sqlite @...` runs every file on
-- each start), so every statement is idempotent. A service's upstream credential is a row of
-- its own table (SQLite cannot add a column only if it is missing), read with the service in
-- the same query (a LEFT JOIN: no extra storage read), written when the service is created
-- and cleared when it is deleted. It holds the secret's NAME only (`bearer:PAYROLL_TOKEN`):
-- the value lives in the runtime's secret store (a Workers secret, a Spin variable) and is
-- never written to this database.

CREATE TABLE IF NOT EXISTS isogate_service_upstream_auth (
  service       TEXT PRIMARY KEY NOT NULL,   -- the service's name
  upstream_auth TEXT NOT NULL                -- the canonical spec: names only, never a value
);

INSERT OR IGNORE INTO isogate_schema (version, name) VALUES (8, '0008_upstream_auth');
