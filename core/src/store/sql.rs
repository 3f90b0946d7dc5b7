//! Every statement the gateway runs, by name: what [`super::Store`] sends, and what a fake
//! database (the bench's `CannedDb`) matches exactly. The schema is `infra/migrations`.

macro_rules! credential_columns {
    () => {
        "c.client_id, c.name, c.user_name, c.kind, c.secret_hash, c.scopes, c.expires_at, c.enabled, c.created_at"
    };
}

/// Whether the schema is there: the number of the four tables that exist.
pub const SCHEMA_TABLES: &str = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
    AND name IN ('users', 'services', 'credentials', 'revoked_tokens')";
pub const USER: &str = "SELECT name, enabled, created_at FROM users WHERE name = ?1";
pub const USERS: &str = "SELECT name, enabled, created_at FROM users ORDER BY name";
pub const INSERT_USER: &str =
    "INSERT OR IGNORE INTO users (name, enabled, created_at) VALUES (?1, ?2, ?3)";
pub const DELETE_USER_CREDENTIALS: &str = "DELETE FROM credentials WHERE user_name = ?1";
pub const DELETE_USER: &str = "DELETE FROM users WHERE name = ?1";
pub const SERVICE: &str =
    "SELECT name, upstream, allowed_users, created_at FROM services WHERE name = ?1";
pub const SERVICES: &str =
    "SELECT name, upstream, allowed_users, created_at FROM services ORDER BY name";
pub const INSERT_SERVICE: &str =
    "INSERT OR IGNORE INTO services (name, upstream, allowed_users, created_at) VALUES (?1, ?2, ?3, ?4)";
pub const DELETE_SERVICE: &str = "DELETE FROM services WHERE name = ?1";
/// A credential with its user's `enabled`, by client id: the token endpoint's one read.
pub const CREDENTIAL_STATUS: &str = concat!(
    "SELECT ",
    credential_columns!(),
    ", u.enabled FROM credentials c JOIN users u ON u.name = c.user_name WHERE c.client_id = ?1"
);
pub const CREDENTIAL_BY_NAME: &str = concat!(
    "SELECT ",
    credential_columns!(),
    " FROM credentials c WHERE c.name = ?1"
);
pub const CREDENTIALS: &str = concat!(
    "SELECT ",
    credential_columns!(),
    " FROM credentials c ORDER BY c.name"
);
pub const CREDENTIALS_OF_USER: &str = concat!(
    "SELECT ",
    credential_columns!(),
    " FROM credentials c WHERE c.user_name = ?1 ORDER BY c.name"
);
pub const INSERT_CREDENTIAL: &str = "INSERT OR IGNORE INTO credentials (client_id, name, user_name, kind, \
    secret_hash, scopes, expires_at, enabled, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
pub const DELETE_CREDENTIAL: &str = "DELETE FROM credentials WHERE name = ?1";
pub const PRUNE_REVOKED_TOKENS: &str = "DELETE FROM revoked_tokens WHERE expires_at < ?1";
pub const INSERT_REVOKED_TOKEN: &str =
    "INSERT OR IGNORE INTO revoked_tokens (jti, client_id, expires_at) VALUES (?1, ?2, ?3)";
/// Ids of revoked tokens that could still pass the expiry check: the service path's set.
pub const REVOKED_TOKEN_IDS: &str = "SELECT jti FROM revoked_tokens WHERE expires_at >= ?1";
pub const IS_TOKEN_REVOKED: &str = "SELECT 1 FROM revoked_tokens WHERE jti = ?1";
