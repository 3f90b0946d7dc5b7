-- Credential lifecycle (issue #13): `isogate rotate cred NAME --grace 1h` (the previous secret,
-- or access token, accepted until the grace ends) and `--max-uses N` (one-time bootstrap
-- credentials, counted at the token endpoint). Disabling, re-enabling, a new expiry or scope
-- (`isogate update cred`) change the credential's own row (enabled, expires_at, scopes).
--
-- Shared like 0001-0005 and replayed like them (`spin up --sqlite @...` runs every file on each
-- start), so every statement is idempotent. SQLite cannot add a column only if it is missing,
-- so this is a table of its own, LEFT JOINed into every credential read (the token endpoint's
-- one read, the service path's cache refill): no extra storage read. A credential without a row
-- was never rotated and has no use limit: every credential created before this migration.

CREATE TABLE IF NOT EXISTS isogate_credential_lifecycle (
  client_id            TEXT PRIMARY KEY NOT NULL, -- isogate_credentials.client_id
  previous_secret_hash TEXT,    -- oauth2: the secret replaced by the last rotation (its hash), accepted until grace_until
  rotated_at           INTEGER, -- unix seconds of the last rotation
  grace_until          INTEGER, -- unix seconds: the end of its grace (exclusive)
  previous_rotated_at  INTEGER, -- the rotation before it: oauth2 tokens issued before this are refused
  token_jti            TEXT,    -- access-token: the current token's jti (since the last rotation)
  previous_token_jti   TEXT,    -- the token it replaced (NULL: the one made at creation), accepted until grace_until
  max_uses             INTEGER, -- token requests the credential may make; NULL: no limit
  uses                 INTEGER NOT NULL DEFAULT 0 -- token requests made so far (counted only with max_uses)
);

INSERT OR IGNORE INTO isogate_schema (version, name) VALUES (7, '0007_credential_lifecycle');
