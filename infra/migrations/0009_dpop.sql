-- DPoP (RFC 9449, issue #12.5): credentials created with `isogate create cred --require-dpop`,
-- and the proofs already used, where the runtime keeps them in the database.
--
-- Shared like 0001-0008 and replayed like them (`spin up --sqlite @...` runs every file on
-- each start), so every statement is idempotent. SQLite cannot add a column only if it is
-- missing, so the flag is a table of its own: a credential with a row refuses token requests
-- without a proof. It is LEFT JOINed into every credential read (the token endpoint's one
-- read, the service path's cache refill): no extra storage read.

CREATE TABLE IF NOT EXISTS isogate_credential_dpop (
  client_id TEXT PRIMARY KEY NOT NULL -- isogate_credentials.client_id: requires a DPoP proof
);

-- The proofs accepted (RFC 9449 §11.1), on a runtime that starts an instance per request
-- (Spin): the SHA-256 of the key's thumbprint and the proof's jti, until the proof would be
-- stale anyway. One insert per proof; rows past their time are pruned by the next one. Workers
-- keep them in each isolate's memory instead, and never write here.
CREATE TABLE IF NOT EXISTS isogate_dpop_proofs (
  key        TEXT PRIMARY KEY NOT NULL, -- base64url SHA-256 of jkt "." jti
  expires_at INTEGER NOT NULL           -- unix seconds: refused as stale from then on
);

INSERT OR IGNORE INTO isogate_schema (version, name) VALUES (9, '0009_dpop');
