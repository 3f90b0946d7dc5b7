-- private_key_jwt client authentication (issue #12.3, RFC 7523 §2.2): `isogate create cred
-- --type private-key-jwt --public-key FILE NAME` registers the client's public keys, and every
-- assertion's `jti` is spent once.
--
-- Shared like 0001-0008 and replayed like them (`spin up --sqlite @...` runs every file on each
-- start), so every statement is idempotent. (0009 is DPoP's.)

-- What a credential's client assertions are checked with, as JSON: for private-key-jwt its
-- registered public keys, a JWK set of public members only (never a private key); for a
-- federated credential (issue #12.4) the external issuer, subject, audience and where its keys
-- are published. Read with the credential, in the token endpoint's one read, only when the
-- client presents an assertion.
CREATE TABLE IF NOT EXISTS isogate_credential_keys (
  client_id TEXT PRIMARY KEY NOT NULL, -- isogate_credentials.client_id
  spec      TEXT NOT NULL              -- {"keys":[{"kty":...,"kid":...,"alg":...}]} or {"issuer":...}
);

-- The jtis of accepted client assertions, until their exp (plus the clock leeway): the primary
-- key makes the insert of a replayed one change nothing, on every isolate and instance at once
-- (D1 and SQLite apply one write at a time). Pruned by the inserts that come after.
CREATE TABLE IF NOT EXISTS isogate_used_assertions (
  client_id  TEXT NOT NULL,    -- whose assertion (jtis are unique per issuer, RFC 7519 §4.1.7)
  jti        TEXT NOT NULL,
  expires_at INTEGER NOT NULL, -- unix seconds: the assertion is refused as expired from then on
  PRIMARY KEY (client_id, jti)
);
CREATE INDEX IF NOT EXISTS isogate_used_assertions_expiry ON isogate_used_assertions (expires_at);

INSERT OR IGNORE INTO isogate_schema (version, name) VALUES (10, '0010_client_assertions');
