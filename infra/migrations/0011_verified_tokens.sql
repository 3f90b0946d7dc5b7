-- Access tokens whose signature was verified, for runtimes that start an instance per request
-- (Spin, issue #14.2): a fresh instance remembers nothing, so without this every request pays
-- a full Ed25519 verification; with it, a token seen before costs a primary-key lookup folded
-- into the request's one read. Workers keeps verified tokens in isolate memory and never reads
-- or writes this table.
--
-- Shared like 0001-0010 and replayed like them (`spin up --sqlite @...` runs every file on each
-- start), so every statement is idempotent.

-- A row means only "this exact token string's signature was verified under this key": the
-- digest is SHA-256 over a label, the verifying key and the whole token, so another token (or
-- a tampered one, or one under a rotated key) never matches. Everything that can change (time,
-- issuer, audience, scope, revocation, the credential, its user, the service) is checked on
-- every request as if there were no row. Written only after a token is accepted, so a forged
-- token never writes; pruned by the inserts that come after once the token has expired.
CREATE TABLE IF NOT EXISTS isogate_verified_tokens (
  digest     TEXT PRIMARY KEY NOT NULL, -- hex SHA-256 (label, key, token); never the token
  expires_at INTEGER NOT NULL           -- unix seconds: the token's exp
);
CREATE INDEX IF NOT EXISTS isogate_verified_tokens_expiry ON isogate_verified_tokens (expires_at);

INSERT OR IGNORE INTO isogate_schema (version, name) VALUES (11, '0011_verified_tokens');
