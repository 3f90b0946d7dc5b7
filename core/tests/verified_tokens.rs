//! Verified tokens remembered across instances (issue #14.2), where every request gets a fresh
//! instance (Spin, `InstanceMemory::PerRequest`): the request's one read also says whether this
//! exact token string's signature was verified under this key before
//! (`isogate_verified_tokens`, migration 0011), and then the signature is not checked again.
//! Everything else is checked on every request as before. The attacker's cases: a row never
//! vouches for another token string, an expired, revoked or retired-key token, and a forged
//! token never writes one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use isogate_core::capability::{Capabilities, InstanceMemory, NoOriginSecrets};
use isogate_core::http::Response;
use isogate_core::jws::PortableJws;
use isogate_core::keys::SigningKey;
use isogate_core::store::SelfMigrating;
use isogate_core::testing::*;
use isogate_core::{Forward, Step};
use std::sync::atomic::AtomicBool;

/// What one request on a fresh instance cost.
struct Cost {
    statements: usize,
    verifications: usize,
}

/// One `GET /` with `token` to the service, on a fresh instance (fresh caches, schema unknown)
/// over the harness's database, as the Spin adapter runs it.
fn on_fresh_instance(h: &Harness, token: &str) -> (Result<Forward, Response>, Cost) {
    let schema_known = AtomicBool::new(false);
    let db = SelfMigrating::new(&h.db, &schema_known);
    let ed25519 = CountingEd25519::default();
    let caps = Capabilities {
        db: &db,
        ed25519: &ed25519,
        random: &FixedRandom(9),
        memory: InstanceMemory::PerRequest,
        secrets: &NoOriginSecrets,
        jws: &PortableJws,
    };
    let gw = h.isolate();
    let auth = format!("Bearer {token}");
    let request = head("GET", SERVICE_HOST, "/", None, &[("authorization", &auth)]);
    let before = h.db.statements.get();
    let result = match block_on(gw.start(caps, request, h.clock())) {
        Step::Forward(forward) => Ok(forward),
        Step::Respond { response, .. } => Err(response),
        Step::NeedBody { .. } => panic!("a service request without a body asked for one"),
    };
    let cost = Cost {
        statements: h.db.statements.get() - before,
        verifications: ed25519.verifications.get(),
    };
    (result, cost)
}

fn remembered_rows(h: &Harness) -> i64 {
    match h.db.raw("SELECT COUNT(*) FROM isogate_verified_tokens")[0][0] {
        isogate_core::store::SqlValue::Integer(n) => n,
        ref other => panic!("a count, not {other:?}"),
    }
}

#[track_caller]
fn refused_as_invalid_token(result: Result<Forward, Response>) {
    let r = refused(result);
    assert_eq!(r.status, 401, "{}", text(&r));
    assert_eq!(json_body(&r)["error"], "invalid_token");
}

#[test]
fn a_token_verified_once_is_not_verified_again_on_a_fresh_instance_and_costs_one_statement() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let (result, first) = on_fresh_instance(&h, &token);
    authorized(result);
    assert_eq!(first.verifications, 1);
    assert_eq!(
        first.statements, 3,
        "the one read, then pruning and remembering"
    );
    assert_eq!(remembered_rows(&h), 1);
    for _ in 0..3 {
        let (result, cost) = on_fresh_instance(&h, &token);
        let forward = authorized(result);
        assert_eq!(cost.verifications, 0, "the signature was verified before");
        assert_eq!(cost.statements, 1, "the lookup is in the one read");
        // The claims still come from the token itself.
        let user = forward
            .plan
            .headers
            .iter()
            .find(|(n, _)| n == "x-isogate-user");
        assert_eq!(user.map(|(_, v)| v.as_str()), Some("root"));
    }
    assert_eq!(remembered_rows(&h), 1);
}

#[test]
fn a_row_for_one_token_never_validates_another_with_the_same_claims_or_a_tampered_one() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    authorized(on_fresh_instance(&h, &token).0);
    let (header, rest) = token.split_once('.').unwrap();
    let (claims, signature) = rest.split_once('.').unwrap();
    // The same header and claims under another signature (a valid signature of something else).
    let other = h.token_for(&client, None);
    let other_signature = other.rsplit('.').next().unwrap();
    let same_claims = format!("{header}.{claims}.{other_signature}");
    // This token's signature over claims with a wider scope.
    let mut tampered_claims = jwt_part(&token, 1);
    tampered_claims["scope"] = "service:*".into();
    let tampered_claims = URL_SAFE_NO_PAD.encode(tampered_claims.to_string());
    let tampered = format!("{header}.{tampered_claims}.{signature}");
    // And a byte of the signature changed.
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for forged in [&same_claims, &tampered, &flipped] {
        let (result, cost) = on_fresh_instance(&h, forged);
        refused_as_invalid_token(result);
        assert_eq!(cost.verifications, 1, "no row vouches for it");
        assert_eq!(cost.statements, 1, "a forged token writes nothing");
    }
    assert_eq!(remembered_rows(&h), 1);
}

#[test]
fn a_token_with_a_bad_signature_never_writes_a_row() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let (signed, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode([0u8; 64]));
    for _ in 0..3 {
        let (result, cost) = on_fresh_instance(&h, &forged);
        refused_as_invalid_token(result);
        assert_eq!((cost.verifications, cost.statements), (1, 1));
    }
    assert_eq!(remembered_rows(&h), 0);
}

#[test]
fn an_expired_token_is_refused_though_its_signature_was_remembered() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    authorized(on_fresh_instance(&h, &token).0);
    let exp = jwt_part(&token, 1)["exp"].as_i64().unwrap();
    h.set_ms(((exp + 31) * 1000) as u64);
    let (result, cost) = on_fresh_instance(&h, &token);
    refused_as_invalid_token(result);
    assert_eq!(
        cost.verifications, 0,
        "refused on its exp, the row notwithstanding"
    );
    // A token issued now remembers itself and prunes the expired one's row.
    let fresh = h.token_for(&client, None);
    authorized(on_fresh_instance(&h, &fresh).0);
    assert_eq!(remembered_rows(&h), 1);
}

#[test]
fn a_revoked_token_is_refused_at_once_though_its_signature_was_remembered() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    authorized(on_fresh_instance(&h, &token).0);
    let jti = jwt_part(&token, 1)["jti"].as_str().unwrap().to_owned();
    h.db.exec_raw(&format!(
        "INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES ('{jti}', '{}', {})",
        client.client_id,
        h.now_secs() + 3600
    ));
    let (result, cost) = on_fresh_instance(&h, &token);
    refused_as_invalid_token(result);
    assert_eq!((cost.verifications, cost.statements), (0, 1));
    // And so is one whose credential was disabled.
    let other = h.token_for(&client, None);
    authorized(on_fresh_instance(&h, &other).0);
    h.db.exec_raw("UPDATE isogate_credentials SET enabled = 0");
    refused_as_invalid_token(on_fresh_instance(&h, &other).0);
}

#[test]
fn a_rotated_signing_key_keeps_old_tokens_rows_only_while_the_old_key_is_published() {
    let (mut h, client) = Harness::seeded();
    let old_token = h.token_for(&client, None);
    authorized(on_fresh_instance(&h, &old_token).0);
    // Rotated: a new signing key, the old one still published for the tokens it signed.
    let old_key = SigningKey::from_base64_seed(&URL_SAFE_NO_PAD.encode(SIGNING_SEED)).unwrap();
    let old_x = old_key.verifying_key().to_jwk()["x"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_seed = URL_SAFE_NO_PAD.encode([8u8; 32]);
    h.settings.insert("ISOGATE_SIGNING_KEY".into(), new_seed);
    h.settings
        .insert("ISOGATE_EXTRA_PUBLIC_KEYS".into(), old_x.clone());
    let (result, cost) = on_fresh_instance(&h, &old_token);
    authorized(result);
    assert_eq!(cost.verifications, 0, "verified under the same old key");
    // A token of the new key has a row of its own, keyed by the new key.
    let new_token = h.token_for_on(&h.isolate(), &client, None);
    let (result, cost) = on_fresh_instance(&h, &new_token);
    authorized(result);
    assert_eq!(cost.verifications, 1);
    assert_eq!(remembered_rows(&h), 2);
    // The old key retired: its tokens are refused, rows or not.
    h.settings.remove("ISOGATE_EXTRA_PUBLIC_KEYS");
    let (result, cost) = on_fresh_instance(&h, &old_token);
    refused_as_invalid_token(result);
    assert_eq!(cost.verifications, 0, "no key to verify with");
    authorized(on_fresh_instance(&h, &new_token).0);
}

#[test]
fn a_failed_write_of_the_row_changes_nothing_for_the_request() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    // As a read-only replica would refuse it.
    h.db.exec_raw(
        "CREATE TRIGGER refuse_remembering BEFORE INSERT ON isogate_verified_tokens \
         BEGIN SELECT RAISE(ABORT, 'read-only'); END;",
    );
    for _ in 0..2 {
        let (result, cost) = on_fresh_instance(&h, &token);
        authorized(result);
        assert_eq!(cost.verifications, 1, "not remembered: verified again");
    }
    assert_eq!(remembered_rows(&h), 0);
}

#[test]
fn a_store_that_cannot_be_read_still_refuses_a_forged_token_as_invalid() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let (signed, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode([0u8; 64]));
    h.db.down.set(true);
    refused_as_invalid_token(on_fresh_instance(&h, &forged).0);
    let (result, _) = on_fresh_instance(&h, &token);
    assert_eq!(refused(result).status, 503);
}

#[test]
fn a_valid_token_whose_request_is_refused_writes_no_row() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let jti = jwt_part(&token, 1)["jti"].as_str().unwrap().to_owned();
    h.db.exec_raw(&format!(
        "INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES ('{jti}', '{}', {})",
        client.client_id,
        h.now_secs() + 3600
    ));
    for _ in 0..2 {
        let (result, cost) = on_fresh_instance(&h, &token);
        refused_as_invalid_token(result);
        assert_eq!((cost.verifications, cost.statements), (1, 1));
    }
    assert_eq!(remembered_rows(&h), 0);
}
