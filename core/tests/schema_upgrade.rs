//! Upgrading a live deployment to stable user ids (infra/migrations/0003): a database made
//! and filled by 0001 and 0002 keeps every row, and the gateway works on it at once, whether
//! the files are run as scripts (`wrangler d1 migrations apply`, `spin up --sqlite @...`) or
//! applied by the component itself (`Store::apply_migrations`, what Spin runs on first use).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use isogate_core::keys::PortableEd25519;
use isogate_core::mint::Grant;
use isogate_core::scope::credential_ceiling;
use isogate_core::secret::Secret;
use isogate_core::store::{SqlValue, Store, MIGRATIONS};
use isogate_core::testing::*;
use serde_json::json;

const SECRET: &str = "old-deployment-secret-0123456789abcdefghijk";
/// The jti of a token minted with `FixedRandom(3)`: revoked in the old database.
fn revoked_jti() -> String {
    URL_SAFE_NO_PAD.encode([3u8; 16])
}

/// What 0001 + 0002 and the previous release wrote: users (one disabled), services open, for
/// one user, and for a user deleted since ("dave", whose name stayed in the policy), every
/// kind of credential (one whose user is gone), and a revoked token.
fn old_deployment() -> MemDb {
    let db = MemDb::with_migrations(&MIGRATIONS[..2]);
    let hash = Secret::new(SECRET).hash();
    let hash = hash.as_str();
    db.exec_raw(&format!(
        "INSERT INTO users (name, enabled, created_at) VALUES
           ('alice', 1, 1700000100), ('bob', 0, 1700000200), ('carol', 1, 1700000300);
         INSERT INTO services (name, upstream, allowed_users, created_at) VALUES
           ('open-api', 'http://127.0.0.1:9000', '[]', 1700000400),
           ('alice-api', 'http://127.0.0.1:9001/base', '[\"alice\"]', 1700000500),
           ('carol-api', 'http://127.0.0.1:9002', '[\"carol\",\"dave\"]', 1700000600);
         INSERT INTO credentials (client_id, name, user_name, kind, secret_hash, scopes,
             expires_at, enabled, created_at) VALUES
           ('aaaa-aaaa', 'alice-cred', 'alice', 'oauth2', '{hash}', '', NULL, 1, 1700000700),
           ('bbbb-bbbb', 'bob-cred', 'bob', 'oauth2', '{hash}', 'service:open-api', NULL, 1, 1700000800),
           ('cccc-cccc', 'carol-at', 'carol', 'access-token', NULL, '', 1800000000, 1, 1700000900),
           ('dddd-dddd', 'dave-cred', 'dave', 'oauth2', '{hash}', '', NULL, 1, 1700001000);
         INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES
           ('{jti}', 'aaaa-aaaa', 1800000000);",
        jti = revoked_jti()
    ));
    db
}

fn client(client_id: &str) -> Client {
    Client {
        name: client_id.into(),
        client_id: client_id.into(),
        client_secret: SECRET.into(),
    }
}

/// A token of credential `name` as the gateway would mint it, its jti from `random`.
fn token_of(h: &Harness, name: &str, random: u8) -> String {
    let credential = block_on(Store::new(&h.db).credential_by_name(name))
        .unwrap()
        .unwrap();
    let scopes = credential_ceiling(&credential.scopes);
    let grant = Grant {
        credential: &credential,
        scopes: &scopes,
        lifetime_secs: None,
        jkt: None,
    };
    block_on(
        h.gw.minter()
            .issue(&PortableEd25519, &FixedRandom(random), grant, h.clock()),
    )
    .access_token
}

fn call(
    h: &Harness,
    service: &str,
    token: &str,
) -> Result<isogate_core::Forward, isogate_core::http::Response> {
    let auth = format!("Bearer {token}");
    h.service(&format!("{service}.{DOMAIN}"), &[("authorization", &auth)])
}

fn count(h: &Harness, table: &str) -> i64 {
    match h.db.raw(&format!("SELECT COUNT(*) FROM {table}"))[0][0] {
        SqlValue::Integer(n) => n,
        ref other => panic!("{other:?}"),
    }
}

/// Every row of the old database is there, with ids, and the gateway serves on it.
fn assert_upgraded(h: &Harness) {
    let (users, services, credentials) = h.snapshot();
    assert_eq!(
        users,
        json!({ "users": [
            { "id": 2, "name": "alice", "enabled": true, "created_at": 1700000100, "groups": [] },
            { "id": 3, "name": "bob", "enabled": false, "created_at": 1700000200, "groups": [] },
            { "id": 4, "name": "carol", "enabled": true, "created_at": 1700000300, "groups": [] },
            { "id": 1, "name": "root", "enabled": true, "created_at": 0, "groups": [] },
        ] })
    );
    assert_eq!(
        services,
        json!({ "services": [
            { "name": "alice-api", "upstream": "http://127.0.0.1:9001/base", "allowed_user_ids": [2],
              "allowed_users": ["alice"], "created_at": 1700000500, "rate_limit": null, "rules": [], "upstream_auth": null },
            // dave had been deleted: his name becomes id 0, which admits nobody.
            { "name": "carol-api", "upstream": "http://127.0.0.1:9002", "allowed_user_ids": [4, 0],
              "allowed_users": ["carol", "dave"], "created_at": 1700000600, "rate_limit": null, "rules": [], "upstream_auth": null },
            { "name": "open-api", "upstream": "http://127.0.0.1:9000", "allowed_user_ids": [],
              "allowed_users": [], "created_at": 1700000400, "rate_limit": null, "rules": [], "upstream_auth": null },
        ] })
    );
    let creds: Vec<(String, String, i64, bool)> = credentials["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["user"].as_str().unwrap().to_owned(),
                c["user_id"].as_i64().unwrap(),
                c["can_introspect"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        creds,
        [
            ("alice-cred", "alice", 2),
            ("bob-cred", "bob", 3),
            ("carol-at", "carol", 4),
            ("dave-cred", "dave", 0),
        ]
        .map(|(n, u, id)| (n.to_owned(), u.to_owned(), id, false))
    );
    assert_eq!(
        credentials["credentials"][1]["scopes"],
        json!(["service:open-api"])
    );
    assert_eq!(count(h, "revoked_tokens"), 1);
    // The old tables are gone; the ledger lists every migration.
    assert!(h
        .db
        .raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'services', 'credentials')")
        .is_empty());
    assert_eq!(
        h.db.raw("SELECT version FROM isogate_schema ORDER BY version"),
        MIGRATIONS
            .iter()
            .map(|m| vec![SqlValue::Integer(m.version)])
            .collect::<Vec<_>>()
    );

    // The gateway works on it: the old secret, the old policy, the old revocation.
    let alice = h.token_for(&client("aaaa-aaaa"), None);
    authorized(call(h, "alice-api", &alice));
    authorized(call(h, "open-api", &alice));
    assert_bearer_error(
        &refused(call(h, "alice-api", &token_of(h, "alice-cred", 3))),
        401,
        "invalid_token",
    );
    authorized(call(h, "carol-api", &token_of(h, "carol-at", 4)));
    assert_bearer_error(
        &refused(call(h, "carol-api", &alice)),
        403,
        "insufficient_scope",
    );
    // A disabled user stays disabled; a credential whose user was gone stays unusable.
    for id in ["bbbb-bbbb", "dddd-dddd"] {
        assert_token_error(
            &h.token(&post_form(&client(id), None), &[]),
            401,
            "invalid_client",
        );
    }
    // Dave, created again, is not the dave of carol-api's policy.
    h.create_user("dave");
    let dave = h.create_client("dave-2", "dave", &[]);
    assert_bearer_error(
        &refused(call(h, "carol-api", &h.token_for(&dave, None))),
        403,
        "insufficient_scope",
    );
}

#[test]
fn the_component_upgrades_an_old_database_keeping_every_row() {
    let h = Harness::new().with_db(old_deployment());
    block_on(Store::new(&h.db).apply_migrations()).unwrap();
    assert_upgraded(&h);
}

#[test]
fn running_0003_and_later_as_scripts_upgrades_an_old_database_keeping_every_row() {
    // `wrangler d1 migrations apply` (D1) and `spin up --sqlite @...` run the files as they are,
    // every one the database lacks.
    let h = Harness::new().with_db(old_deployment());
    for m in &MIGRATIONS[2..] {
        h.db.exec_raw(m.sql);
    }
    assert_upgraded(&h);
}

#[test]
fn replaying_every_migration_file_on_an_upgraded_database_changes_nothing() {
    // `spin up --sqlite @0001 --sqlite @0002 --sqlite @0003` runs them on every start.
    let h = Harness::new().with_db(old_deployment());
    block_on(Store::new(&h.db).apply_migrations()).unwrap();
    assert_eq!(h.admin("DELETE", "/admin/v1/users/alice", None).status, 200);
    let before = h.snapshot();
    for _ in 0..2 {
        for m in MIGRATIONS {
            h.db.exec_raw(m.sql);
        }
    }
    assert_eq!(
        h.snapshot(),
        before,
        "alice stays deleted, nothing else moves"
    );
    assert_eq!(count(&h, "revoked_tokens"), 1);
}

#[test]
fn the_component_reads_the_schema_version_once_when_it_is_current() {
    let h = Harness::new();
    let statements = h.db.statements.get();
    block_on(Store::new(&h.db).apply_migrations()).unwrap();
    assert_eq!(h.db.statements.get() - statements, 1);
}

#[test]
fn a_database_of_0001_only_gets_0002_and_0003() {
    let db = MemDb::with_migrations(&MIGRATIONS[..1]);
    db.exec_raw("INSERT INTO users (name, enabled, created_at) VALUES ('alice', 1, 5)");
    let h = Harness::new().with_db(db);
    block_on(Store::new(&h.db).apply_migrations()).unwrap();
    assert_eq!(count(&h, "revoked_tokens"), 0);
    assert_eq!(
        h.db.raw("SELECT id, name FROM isogate_users ORDER BY id"),
        vec![
            vec![SqlValue::Integer(1), SqlValue::Text("root".into())],
            vec![SqlValue::Integer(2), SqlValue::Text("alice".into())],
        ]
    );
}
