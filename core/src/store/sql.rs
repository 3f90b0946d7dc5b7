//! Every statement the gateway runs, by name: what [`super::Store`] sends, and what a fake
//! database (the bench's `CannedDb`) matches exactly. The schema is `infra/migrations`.

/// A credential's columns: its own row, then its lifecycle's (`infra/migrations/0007_*.sql`;
/// NULLs without one), read through [`credentials_joined`] in every credential statement.
macro_rules! credential_columns {
    () => {
        "c.client_id, c.name, c.user_id, c.user_name, c.kind, c.secret_hash, c.scopes, c.expires_at, \
         c.enabled, c.created_at, c.can_introspect, l.previous_secret_hash, l.rotated_at, \
         l.grace_until, l.previous_rotated_at, l.token_jti, l.previous_token_jti, l.max_uses, l.uses, \
         d.client_id IS NOT NULL"
    };
}

/// The ids of the groups of the credential's user, comma-separated (NULL: none): a subquery of
/// the one credential read, so that policy rules cost no read of their own.
macro_rules! user_groups {
    () => {
        "(SELECT group_concat(m.group_id) FROM isogate_group_members m WHERE m.user_id = c.user_id)"
    };
}

/// The credentials with their lifecycle rows: a LEFT JOIN, so no read grows.
macro_rules! credentials_joined {
    () => {
        " FROM isogate_credentials c \
         LEFT JOIN isogate_credential_lifecycle l ON l.client_id = c.client_id \
         LEFT JOIN isogate_credential_dpop d ON d.client_id = c.client_id"
    };
}

/// The migrations applied (`infra/migrations/0003_*.sql` created the ledger): the one read a
/// runtime that applies migrations itself makes on each instance's first storage use. Every
/// version, not the newest: issue #13's items merged out of number order (0008 before 0007),
/// so a database may hold a newer migration and lack an older one.
pub const SCHEMA_VERSION: &str = "SELECT version FROM isogate_schema";
/// Before the ledger: how many of the tables of 0001 and 0002 exist (3 after 0001, 4 after
/// 0002).
pub const LEGACY_SCHEMA_TABLES: &str = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
    AND name IN ('users', 'services', 'credentials', 'revoked_tokens')";
macro_rules! user_select {
    () => {
        "SELECT u.id, u.name, u.enabled, u.created_at, (SELECT group_concat(g.name, ' ') \
         FROM isogate_group_members m JOIN isogate_groups g ON g.id = m.group_id \
         WHERE m.user_id = u.id) FROM isogate_users u"
    };
}
/// A user with its groups' names (space-separated, NULL: none).
pub const USER: &str = concat!(user_select!(), " WHERE u.name = ?1");
pub const USERS: &str = concat!(user_select!(), " ORDER BY u.name");
/// Returns the new user's id; no row when the name is taken.
pub const INSERT_USER: &str = "INSERT OR IGNORE INTO isogate_users (name, enabled, created_at) \
    VALUES (?1, ?2, ?3) RETURNING id";
pub const DELETE_USER_CREDENTIALS: &str = "DELETE FROM isogate_credentials WHERE user_id = ?1";
pub const DELETE_USER: &str = "DELETE FROM isogate_users WHERE id = ?1";
pub const DELETE_USER_MEMBERSHIPS: &str = "DELETE FROM isogate_group_members WHERE user_id = ?1";
macro_rules! service_select {
    () => {
        "SELECT s.name, s.upstream, s.allowed_user_ids, s.allowed_users, s.created_at, \
         r.rate_limit, u.upstream_auth, p.rules FROM isogate_services s \
         LEFT JOIN isogate_service_rate_limits r ON r.service = s.name \
         LEFT JOIN isogate_service_upstream_auth u ON u.service = s.name \
         LEFT JOIN isogate_service_policies p ON p.service = s.name"
    };
}
/// A service with its rate limit, its upstream credential's spec (names only) and its policy
/// rules (`NULL` without each): one read, whatever they are.
pub const SERVICE: &str = concat!(service_select!(), " WHERE s.name = ?1");
pub const SERVICES: &str = concat!(service_select!(), " ORDER BY s.name");
pub const INSERT_SERVICE: &str = "INSERT OR IGNORE INTO isogate_services \
    (name, upstream, allowed_user_ids, allowed_users, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
pub const DELETE_SERVICE: &str = "DELETE FROM isogate_services WHERE name = ?1";
/// Sets service `?1`'s upstream credential to the spec `?2` (names only).
pub const SET_SERVICE_UPSTREAM_AUTH: &str = "INSERT OR REPLACE INTO isogate_service_upstream_auth \
    (service, upstream_auth) VALUES (?1, ?2)";
pub const DELETE_SERVICE_UPSTREAM_AUTH: &str =
    "DELETE FROM isogate_service_upstream_auth WHERE service = ?1";
/// Sets service `?1`'s rate limit to `?2` (`NULL`: none).
pub const SET_SERVICE_RATE_LIMIT: &str =
    "INSERT OR REPLACE INTO isogate_service_rate_limits (service, rate_limit) VALUES (?1, ?2)";
/// Sets service `?1`'s rules to `?2` (JSON; `NULL`: none).
pub const SET_SERVICE_POLICY: &str =
    "INSERT OR REPLACE INTO isogate_service_policies (service, rules) VALUES (?1, ?2)";

// -- Groups (crate::policy): members, and the groups a credential's user is in.

macro_rules! group_select {
    () => {
        "SELECT g.id, g.name, g.created_at, (SELECT group_concat(u.name, ' ') \
         FROM isogate_group_members m JOIN isogate_users u ON u.id = m.user_id \
         WHERE m.group_id = g.id) FROM isogate_groups g"
    };
}
/// A group with its members' names (space-separated, NULL: none).
pub const GROUP: &str = concat!(group_select!(), " WHERE g.name = ?1");
pub const GROUPS: &str = concat!(group_select!(), " ORDER BY g.name");
/// Returns the new group's id; no row when the name is taken.
pub const INSERT_GROUP: &str = "INSERT OR IGNORE INTO isogate_groups (name, created_at) \
    VALUES (?1, ?2) RETURNING id";
pub const DELETE_GROUP_MEMBERS: &str = "DELETE FROM isogate_group_members WHERE group_id = ?1";
pub const DELETE_GROUP: &str = "DELETE FROM isogate_groups WHERE id = ?1";
/// The client ids of the credentials of group `?1`'s members (whose cached groups change).
pub const GROUP_CREDENTIALS: &str = "SELECT c.client_id FROM isogate_credentials c \
    JOIN isogate_group_members m ON m.user_id = c.user_id WHERE m.group_id = ?1";
pub const REMOVE_GROUP_MEMBER: &str =
    "DELETE FROM isogate_group_members WHERE group_id = ?1 AND user_id = ?2";
pub const ADD_GROUP_MEMBER: &str =
    "INSERT OR IGNORE INTO isogate_group_members (group_id, user_id) VALUES (?1, ?2)";
/// Counts one request of credential `?2` to service `?1` at `?5` (unix ms), for a window of
/// `?3` ms ending at `?4` (the credential's window that holds `?5`), and returns the count:
/// `rate_limit::RateLimit::count` in SQL. One more in the stored window while `?5` is before its
/// end and its length is unchanged; else the first of the new window. One statement, so
/// concurrent instances sharing the database never lose a count.
pub const COUNT_REQUEST: &str = "INSERT INTO isogate_rate_counts \
    (service, client_id, window_ms, window_end, hits) VALUES (?1, ?2, ?3, ?4, 1) \
    ON CONFLICT (service, client_id) DO UPDATE SET \
    hits = CASE WHEN window_ms = ?3 AND ?5 < window_end THEN hits + 1 ELSE 1 END, \
    window_end = CASE WHEN window_ms = ?3 AND ?5 < window_end THEN window_end ELSE ?4 END, \
    window_ms = ?3 \
    RETURNING window_ms, window_end, hits";
/// A credential with its user's `enabled`, by client id: the token endpoint's one read. The
/// join is on the user's id: a credential outlives no user, whatever the names.
pub const CREDENTIAL_STATUS: &str = concat!(
    "SELECT ",
    credential_columns!(),
    ", u.enabled, ",
    user_groups!(),
    credentials_joined!(),
    " JOIN isogate_users u ON u.id = c.user_id WHERE c.client_id = ?1"
);
pub const CREDENTIAL_BY_NAME: &str = concat!(
    "SELECT ",
    credential_columns!(),
    credentials_joined!(),
    " WHERE c.name = ?1"
);
pub const CREDENTIALS: &str = concat!(
    "SELECT ",
    credential_columns!(),
    credentials_joined!(),
    " ORDER BY c.name"
);
pub const CREDENTIALS_OF_USER: &str = concat!(
    "SELECT ",
    credential_columns!(),
    credentials_joined!(),
    " WHERE c.user_id = ?1 ORDER BY c.name"
);
pub const INSERT_CREDENTIAL: &str = "INSERT OR IGNORE INTO isogate_credentials (client_id, name, \
    user_id, user_name, kind, secret_hash, scopes, expires_at, enabled, created_at, can_introspect) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
pub const DELETE_CREDENTIAL: &str = "DELETE FROM isogate_credentials WHERE name = ?1";

// -- Credential lifecycle (crate::lifecycle): rotation, update, use limits.

/// `isogate update cred`: credential `?1`'s state, expiry and scope ceiling.
pub const UPDATE_CREDENTIAL: &str = "UPDATE isogate_credentials SET enabled = ?2, \
    expires_at = ?3, scopes = ?4 WHERE client_id = ?1";
/// A rotation's new secret (`NULL` for an access-token credential, which has none).
pub const SET_SECRET_HASH: &str =
    "UPDATE isogate_credentials SET secret_hash = ?2 WHERE client_id = ?1";
/// A rotation, written with its new secret in one batch: the previous secret (or token) and its
/// grace; a use limit and its count are kept.
pub const SET_ROTATION: &str = "INSERT INTO isogate_credential_lifecycle (client_id, \
    previous_secret_hash, rotated_at, grace_until, previous_rotated_at, token_jti, \
    previous_token_jti) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (client_id) DO UPDATE SET \
    previous_secret_hash = ?2, rotated_at = ?3, grace_until = ?4, previous_rotated_at = ?5, \
    token_jti = ?6, previous_token_jti = ?7";
/// A new credential's use limit (also clears a row a deleted credential left behind).
pub const SET_MAX_USES: &str = "INSERT OR REPLACE INTO isogate_credential_lifecycle \
    (client_id, max_uses, uses) VALUES (?1, ?2, 0)";
/// Spends one use of credential `?1`: one statement, so concurrent token requests on any
/// isolate never spend more than `max_uses` between them. Returns the new count, and no row
/// once they are spent (a row, not a change count: Spin reads changes with a second statement,
/// which another instance sharing the connection may run between).
pub const USE_CREDENTIAL: &str = "UPDATE isogate_credential_lifecycle SET uses = uses + 1 \
    WHERE client_id = ?1 AND uses < max_uses RETURNING uses";
pub const DELETE_CREDENTIAL_LIFECYCLE: &str = "DELETE FROM isogate_credential_lifecycle \
    WHERE client_id IN (SELECT client_id FROM isogate_credentials WHERE name = ?1)";
/// A new credential refuses token requests without a DPoP proof (`infra/migrations/0009_*.sql`).
pub const SET_REQUIRE_DPOP: &str =
    "INSERT OR IGNORE INTO isogate_credential_dpop (client_id) VALUES (?1)";
pub const DELETE_CREDENTIAL_DPOP: &str = "DELETE FROM isogate_credential_dpop \
    WHERE client_id IN (SELECT client_id FROM isogate_credentials WHERE name = ?1)";
pub const DELETE_USER_CREDENTIAL_DPOP: &str = "DELETE FROM isogate_credential_dpop \
    WHERE client_id IN (SELECT client_id FROM isogate_credentials WHERE user_id = ?1)";
/// Proofs past their window at ?1 (unix seconds): refused as stale whatever this table says.
pub const PRUNE_DPOP_PROOFS: &str = "DELETE FROM isogate_dpop_proofs WHERE expires_at < ?1";
/// Records proof ?1 (until ?2); a row back when it is new, none when it was used before (a
/// row, not a change count: see [`USE_CREDENTIAL`]).
pub const INSERT_DPOP_PROOF: &str = "INSERT INTO isogate_dpop_proofs (key, expires_at) \
    VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING RETURNING 1";
pub const DELETE_USER_CREDENTIAL_LIFECYCLES: &str = "DELETE FROM isogate_credential_lifecycle \
    WHERE client_id IN (SELECT client_id FROM isogate_credentials WHERE user_id = ?1)";
pub const PRUNE_REVOKED_TOKENS: &str = "DELETE FROM revoked_tokens WHERE expires_at < ?1";
/// Records a revocation unless the client already holds `?5` unexpired ones (`expires_at`
/// from `?4` on): the count and the insert are one statement, so concurrent revocations on
/// other isolates cannot overshoot the bound. Changes no row when the jti is already there
/// or the bound is reached.
pub const INSERT_REVOKED_TOKEN: &str = "INSERT OR IGNORE INTO revoked_tokens (jti, client_id, \
    expires_at) SELECT ?1, ?2, ?3 WHERE (SELECT COUNT(*) FROM revoked_tokens \
    WHERE client_id = ?2 AND expires_at >= ?4) < ?5";
/// Whether one token is revoked: a primary-key lookup, the service path's only revocation read.
pub const IS_TOKEN_REVOKED: &str = "SELECT 1 FROM revoked_tokens WHERE jti = ?1";
/// [`SERVICE_REQUEST`]'s columns (without its `FROM`), shared with
/// [`SERVICE_REQUEST_REMEMBERING`].
macro_rules! service_request_columns {
    () => {
        concat!(
            "SELECT ",
            credential_columns!(),
            ", u.enabled, ",
            user_groups!(),
            ", (SELECT 1 FROM revoked_tokens WHERE jti = ?1)",
            ", (SELECT COUNT(*) FROM isogate_schema WHERE version IN (SELECT value FROM json_each(?4)))",
            ", s.name, s.upstream, s.allowed_user_ids, s.allowed_users, s.created_at, r.rate_limit, ",
            "a.upstream_auth, p.rules"
        )
    };
}

/// [`SERVICE_REQUEST`]'s `FROM`: one row whatever exists.
macro_rules! service_request_from {
    () => {
        concat!(
            " FROM (SELECT 1) one",
            " LEFT JOIN isogate_credentials c ON c.client_id = ?2",
            " LEFT JOIN isogate_credential_lifecycle l ON l.client_id = c.client_id",
            " LEFT JOIN isogate_credential_dpop d ON d.client_id = c.client_id",
            " LEFT JOIN isogate_users u ON u.id = c.user_id",
            " LEFT JOIN isogate_services s ON s.name = ?3",
            " LEFT JOIN isogate_service_rate_limits r ON r.service = s.name",
            " LEFT JOIN isogate_service_upstream_auth a ON a.service = s.name",
            " LEFT JOIN isogate_service_policies p ON p.service = s.name"
        )
    };
}

/// A service request's one read on an instance with nothing cached (Spin gives every request a
/// fresh one): always one row, what [`CREDENTIAL_STATUS`], [`IS_TOKEN_REVOKED`] and [`SERVICE`]
/// read, side by side, and how many of the migrations this code needs the schema's ledger holds
/// (`?4`: their versions, a JSON list; versions may skip numbers), so that a runtime that applies the migrations itself needs no
/// read of its own for them. Token `?1` (`jti`), credential `?2` (client id), service `?3`. The
/// columns: the credential's (NULLs: none), its user's `enabled` (NULL: the user is gone) and
/// groups, 1 or NULL (revoked), the ledger's count, then [`SERVICE`]'s (NULLs: none).
pub const SERVICE_REQUEST: &str = concat!(service_request_columns!(), service_request_from!());

/// [`SERVICE_REQUEST`] and, last, whether the token's signature was verified before (the
/// digest itself, or NULL): a row of `isogate_verified_tokens` (migration 0011) under digest `?5`
/// ([`crate::verify::Unverified::remembered_as`]). A primary-key lookup in the same statement,
/// so a fresh instance (Spin) learns it at no statement of its own.
#[cfg(feature = "instance-per-request")]
pub const SERVICE_REQUEST_REMEMBERING: &str = concat!(
    service_request_columns!(),
    ", (SELECT digest FROM isogate_verified_tokens WHERE digest = ?5)",
    service_request_from!()
);
/// Verified tokens whose exp has passed at ?1: refused as expired anyway.
#[cfg(feature = "instance-per-request")]
pub const PRUNE_VERIFIED_TOKENS: &str = "DELETE FROM isogate_verified_tokens WHERE expires_at < ?1";
/// Remembers that the token of digest ?1, expiring at ?2, was verified (a second request that
/// verified it at the same time changes nothing).
#[cfg(feature = "instance-per-request")]
pub const REMEMBER_VERIFIED_TOKEN: &str =
    "INSERT OR IGNORE INTO isogate_verified_tokens (digest, expires_at) VALUES (?1, ?2)";

// -- Throttled guessing (crate::throttle): the counts of failed authentications.

/// Columns of [`CREDENTIAL_STATUS`] before the user's `enabled`.
pub const CREDENTIAL_COLUMNS: usize = count_columns(credential_columns!());

const fn count_columns(list: &str) -> usize {
    let bytes = list.as_bytes();
    let (mut i, mut n) = (0, 1);
    while i < bytes.len() {
        if bytes[i] == b',' {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The token, revocation and introspection endpoints' one read (and the admin API's, with no
/// client id): the lockouts that apply to the attempt at ?5 (unix ms), then the credential of
/// ?1 with its user's `enabled` and groups as [`CREDENTIAL_STATUS`] reads them (NULLs when there is none, or
/// its user is gone). Always one row. The keys are ?2 client id + address, ?3 address, ?4
/// client id (NULL for a key not counted). Column 0 is the address's lockout; column 1 the
/// pair's, or the client id's when this address has failed for the id (its pair row is
/// live): `ThrottleConfig::judge` in SQL; keep them equal.
pub const CREDENTIAL_STATUS_AND_LOCKOUTS: &str = concat!(
    "SELECT coalesce(a.locked_until, 0), max(coalesce(p.locked_until, 0), ",
    "iif(coalesce(p.expires_at, 0) > ?5, coalesce(i.locked_until, 0), 0)), ",
    credential_columns!(),
    ", u.enabled, ",
    user_groups!(),
    " FROM (SELECT 1) one",
    " LEFT JOIN isogate_auth_failures a ON a.key = ?3",
    " LEFT JOIN isogate_auth_failures p ON p.key = ?2",
    " LEFT JOIN isogate_auth_failures i ON i.key = ?4",
    " LEFT JOIN isogate_credentials c ON c.client_id = ?1",
    " LEFT JOIN isogate_credential_lifecycle l ON l.client_id = c.client_id",
    " LEFT JOIN isogate_credential_dpop d ON d.client_id = c.client_id",
    " LEFT JOIN isogate_users u ON u.id = c.user_id"
);
/// [`CREDENTIAL_STATUS_AND_LOCKOUTS`] with one more column, last: what the credential's client
/// assertions are checked with (`infra/migrations/0010_*.sql`; NULL without). The read of a token request
/// that presents a client assertion; no other read carries the keys.
pub const CREDENTIAL_STATUS_LOCKOUTS_AND_KEYS: &str = concat!(
    "SELECT coalesce(a.locked_until, 0), max(coalesce(p.locked_until, 0), ",
    "iif(coalesce(p.expires_at, 0) > ?5, coalesce(i.locked_until, 0), 0)), ",
    credential_columns!(),
    ", u.enabled, ",
    user_groups!(),
    ", k.spec",
    " FROM (SELECT 1) one",
    " LEFT JOIN isogate_auth_failures a ON a.key = ?3",
    " LEFT JOIN isogate_auth_failures p ON p.key = ?2",
    " LEFT JOIN isogate_auth_failures i ON i.key = ?4",
    " LEFT JOIN isogate_credentials c ON c.client_id = ?1",
    " LEFT JOIN isogate_credential_lifecycle l ON l.client_id = c.client_id",
    " LEFT JOIN isogate_credential_dpop d ON d.client_id = c.client_id",
    " LEFT JOIN isogate_users u ON u.id = c.user_id",
    " LEFT JOIN isogate_credential_keys k ON k.client_id = c.client_id"
);
/// What credential `?1`'s assertions are checked with (`?2`: a JWK set, or a federation's
/// spec), written once at its creation.
pub const SET_CREDENTIAL_KEYS: &str =
    "INSERT OR REPLACE INTO isogate_credential_keys (client_id, spec) VALUES (?1, ?2)";
pub const DELETE_CREDENTIAL_KEYS: &str = "DELETE FROM isogate_credential_keys \
    WHERE client_id IN (SELECT client_id FROM isogate_credentials WHERE name = ?1)";
pub const DELETE_USER_CREDENTIAL_KEYS: &str = "DELETE FROM isogate_credential_keys \
    WHERE client_id IN (SELECT client_id FROM isogate_credentials WHERE user_id = ?1)";
/// Assertions whose exp has passed at ?1: refused as expired anyway.
pub const PRUNE_USED_ASSERTIONS: &str = "DELETE FROM isogate_used_assertions WHERE expires_at < ?1";
/// Spends jti ?2 of client ?1 until ?3: a row back the first time, none for a replay (the
/// primary key; a row, not a change count, as for `USE_CREDENTIAL`).
pub const SPEND_ASSERTION: &str = "INSERT INTO isogate_used_assertions (client_id, jti, \
    expires_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING RETURNING 1";
/// Rows that say nothing any more (window over, strikes forgiven) at ?1.
pub const PRUNE_AUTH_FAILURES: &str = "DELETE FROM isogate_auth_failures WHERE expires_at <= ?1";
/// A key's row before its first failure: what [`COUNT_AUTH_FAILURE`] counts from.
pub const INSERT_AUTH_FAILURE_KEY: &str = "INSERT OR IGNORE INTO isogate_auth_failures \
    (key, window_start, failures, strikes, locked_until, expires_at) VALUES (?1, 0, 0, 0, 0, 0)";

/// Counts one failure of key ?1 at ?2 (window ?3, cap ?4, limit ?5; unix ms), atomically
/// (one statement: concurrent failures all count). The transition of
/// `FailureCount::after_failure`, which a test holds it equal to, with its names: `n` failures
/// in the window after this one, `k` strikes not forgiven, `lu` and `ws` the lockout and the
/// window start before a new lockout, `trips` whether this failure reaches the limit, `until`
/// the end of the lockout it starts. Strikes stop at 20 (`throttle::MAX_STRIKES`).
pub const COUNT_AUTH_FAILURE: &str = "UPDATE isogate_auth_failures SET \
    failures = iif(trips, 0, n), strikes = min(k + trips, 20), \
    locked_until = iif(trips, until, lu), window_start = iif(trips, until, ws), \
    expires_at = iif(trips, until + ?4, max(ws + ?3, lu + ?4)) \
    FROM (SELECT n, k, lu, ws, n >= ?5 AS trips, ?2 + min(?3 << k, ?4) AS until FROM \
      (SELECT iif(?2 >= window_start + ?3, 1, failures + 1) AS n, \
        iif(?2 >= locked_until + ?4, 0, strikes) AS k, \
        iif(?2 >= locked_until + ?4, 0, locked_until) AS lu, \
        iif(?2 >= window_start + ?3, ?2, window_start) AS ws \
      FROM isogate_auth_failures WHERE key = ?1)) \
    WHERE key = ?1";
