-- RFC 7009 revocation of individual access tokens. A row lives until the token would have
-- expired anyway (plus clock leeway); expired rows are pruned on later revocations.
CREATE TABLE IF NOT EXISTS revoked_tokens (
  jti        TEXT PRIMARY KEY NOT NULL,
  client_id  TEXT NOT NULL,
  expires_at INTEGER NOT NULL            -- unix seconds: the token's exp
);

CREATE INDEX IF NOT EXISTS revoked_tokens_by_expiry ON revoked_tokens (expires_at);
