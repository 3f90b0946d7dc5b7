//! Unit tests of the audit line: its fields, escaping and bounds, the levels, request ids,
//! the error mapping, the README's vocabulary. The forward's record: `forward/tests.rs`.

use super::json::{rfc3339, CUT};
use super::*;
use crate::error::{BearerError, ScopeRefusal, TokenError, TokenRefusal};
use crate::model::{CredentialKind, CredentialStatus};
use crate::scope::ScopeSet;
use crate::testing::{head, FixedRandom};
use crate::token::{AccessTokenClaims, TokenInvalid};
use crate::verify::VerifiedToken;
use serde_json::Value;
use std::rc::Rc;

pub(super) const T0: Now = Now::from_unix_ms(1_700_000_000_123);

pub(super) fn parse(line: &AuditLine) -> Value {
    assert!(!line.as_str().contains('\n'), "one line: {line}");
    serde_json::from_str(line.as_str()).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

pub(super) fn context(level: AuditLevel, head: &RequestHead) -> AuditContext {
    AuditContext::new(level, head, &FixedRandom(9), T0)
}

/// What the service flow has seen of `alice`'s token `jti-1` from credential `ci`.
pub(super) fn seen() -> Seen {
    let claims = AccessTokenClaims {
        iss: "https://example.com".into(),
        sub: "alice".into(),
        aud: "https://example.com".into(),
        exp: 0,
        iat: 0,
        nbf: None,
        jti: "jti-1".into(),
        client_id: "abcd-efgh".into(),
        scope: "service:*".into(),
        cnf: None,
    };
    let credential = Credential {
        client_id: "abcd-efgh".into(),
        name: "ci".into(),
        user_id: 2,
        user: "alice".into(),
        kind: CredentialKind::OAuth2,
        secret_hash: None,
        scopes: ScopeSet::default(),
        expires_at: None,
        enabled: true,
        created_at: 0,
        can_introspect: false,
        require_dpop: false,
        lifecycle: Default::default(),
    };
    Seen {
        token: Some(Rc::new(VerifiedToken {
            claims,
            scopes: None,
            audience: crate::resource::TokenAudience::Gateway,
        })),
        credential: Some(Rc::new(CredentialStatus {
            credential,
            user_enabled: true,
            groups: vec![],
        })),
    }
}

fn denied_entry<'a>(head: &'a RequestHead, seen: &'a Seen) -> Entry<'a> {
    Entry {
        head,
        service: Some("my-api"),
        who: Who::from(seen),
        admin: None,
        outcome: Outcome::Denied,
        reason: Some(Reason::Scope),
        status: 403,
    }
}

#[test]
fn a_line_is_one_json_object_with_its_fields_in_order() {
    let head = head("GET", "my-api.example.com", "/a/b", Some("q=secret"), &[]);
    let seen = seen();
    let record = context(AuditLevel::All, &head).record(&denied_entry(&head, &seen));
    let line = record
        .finish(Now::from_unix_ms(T0.unix_ms() + 7))
        .expect("a line");
    assert_eq!(
        line.as_str(),
        r#"{"log":"audit","time":"2023-11-14T22:13:20.123Z","request_id":"CQkJCQkJCQkJCQkJCQkJCQ","host":"my-api.example.com","service":"my-api","method":"GET","path":"/a/b","user":"alice","credential":"ci","client_id":"abcd-efgh","jti":"jti-1","outcome":"denied","reason":"scope","status":403,"duration_ms":7}"#
    );
}

#[test]
fn hostile_paths_hosts_and_methods_are_escaped_and_cannot_break_the_line() {
    let hostile =
        "/a\"b\\c\nd\re\tf\u{0}g\u{1b}[31mh\u{7f}i\u{9b}j\u{2028}k\u{2029}l\u{202e}m\u{2066}né";
    let mut head = head("GET", "h\"ost\n.example.com", hostile, None, &[]);
    head.method = crate::http::Method::Other("G\"ET\n".into());
    let seen = Seen::default();
    let line = context(AuditLevel::All, &head)
        .record(&denied_entry(&head, &seen))
        .finish(T0)
        .unwrap();
    // Nothing but printable ASCII and plain non-ASCII letters is written raw.
    for c in line.as_str().chars() {
        assert!(
            !c.is_control() && !matches!(c, '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}'),
            "{c:?} raw in {line}"
        );
    }
    assert!(line.as_str().contains(r#"\u001b[31m"#), "{line}");
    assert!(line.as_str().contains(r#"\u202e"#), "{line}");
    let v = parse(&line);
    assert_eq!(v["path"], hostile, "escaped, not altered");
    assert_eq!(v["host"], "h\"ost\n.example.com");
    assert_eq!(v["method"], "G\"ET\n");
    assert_eq!(v.as_object().unwrap().len(), 11, "no field forged: {line}");
}

#[test]
fn values_over_their_bound_are_cut_at_a_character_boundary_and_marked() {
    // 'é' is two bytes: a cut at 512 bytes falls inside one.
    let long = format!("/{}", "é".repeat(1_000));
    let head = head("GET", &"h".repeat(300), &long, None, &[]);
    let seen = Seen::default();
    let line = context(AuditLevel::All, &head)
        .record(&denied_entry(&head, &seen))
        .finish(T0)
        .unwrap();
    let v = parse(&line);
    let path = v["path"].as_str().unwrap();
    assert!(path.ends_with(CUT), "{path}");
    assert!(path.len() <= MAX_PATH + CUT.len());
    assert!(long.starts_with(path.trim_end_matches(CUT)));
    assert_eq!(v["host"].as_str().unwrap().len(), MAX_HOST + CUT.len());
}

#[test]
fn random_request_ids_are_unpadded_base64url_of_16_bytes() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let random = crate::testing::SeededRandom::new(3);
    for _ in 0..50 {
        let mut bytes = [0u8; 16];
        random.fill(&mut bytes);
        assert_eq!(super::base64url(&bytes), URL_SAFE_NO_PAD.encode(bytes));
    }
}

#[test]
fn rfc3339_times_are_utc_with_milliseconds() {
    for (ms, expected) in [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
        (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
    ] {
        assert_eq!(rfc3339(ms), expected);
    }
}

#[test]
fn isogate_audit_levels_choose_which_outcomes_get_a_line() {
    assert_eq!(AuditLevel::default(), AuditLevel::All);
    for (setting, level) in [
        ("off", AuditLevel::Off),
        ("denials", AuditLevel::Denials),
        ("all", AuditLevel::All),
    ] {
        assert_eq!(AuditLevel::parse(setting), Some(level));
    }
    for bad in ["", "ALL", "none", "on", "denial"] {
        assert_eq!(AuditLevel::parse(bad), None, "{bad}");
    }
    for &outcome in Outcome::ALL {
        assert!(AuditLevel::All.logs(outcome));
        assert!(!AuditLevel::Off.logs(outcome));
        let kept = matches!(
            outcome,
            Outcome::Denied
                | Outcome::TokenRefused
                | Outcome::Throttled
                | Outcome::AdminRefused
                | Outcome::AdminChange
        );
        assert_eq!(AuditLevel::Denials.logs(outcome), kept, "{outcome:?}");
    }
    let head = head("GET", "my-api.example.com", "/", None, &[]);
    let seen = Seen::default();
    let entry = denied_entry(&head, &seen);
    assert!(context(AuditLevel::Off, &head)
        .record(&entry)
        .finish(T0)
        .is_none());
    let forwarded = Entry {
        outcome: Outcome::Forwarded,
        ..entry
    };
    assert!(context(AuditLevel::Denials, &head)
        .record(&forwarded)
        .finish(T0)
        .is_none());
    assert!(context(AuditLevel::Denials, &head)
        .record(&entry)
        .finish(T0)
        .is_some());
}

#[test]
fn a_client_request_id_is_kept_only_when_short_and_of_safe_characters() {
    let with = |values: &[&str]| {
        let headers: Vec<(&str, &str)> = values.iter().map(|v| ("X-Request-Id", *v)).collect();
        context(AuditLevel::All, &head("GET", "h", "/", None, &headers))
            .request_id()
            .to_owned()
    };
    let random = "CQkJCQkJCQkJCQkJCQkJCQ";
    let longest = "a".repeat(MAX_CLIENT_REQUEST_ID);
    for kept in [
        "abc-123_.:XYZ",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        &longest,
    ] {
        assert_eq!(with(&[kept]), kept);
    }
    let too_long = "a".repeat(MAX_CLIENT_REQUEST_ID + 1);
    for refused in ["", "a b", "a\"b", "é", "a/b", "a,b", &too_long] {
        assert_eq!(with(&[refused]), random, "{refused:?}");
    }
    assert_eq!(with(&["one", "two"]), random, "a repeated header is no id");
    assert_eq!(with(&[]), random);
}

#[test]
fn the_admin_credential_id_is_the_first_8_hex_digits_of_the_tokens_sha256() {
    // printf %s test-admin-token-0123456789 | sha256sum | cut -c1-8
    assert_eq!(
        admin_credential_id("test-admin-token-0123456789"),
        "bbb6a34e"
    );
}

#[test]
fn errors_map_to_their_reasons_in_one_place() {
    let cases: &[(BearerError, &str)] = &[
        (BearerError::Missing, "missing_token"),
        (BearerError::InvalidRequest("x".into()), "malformed"),
        (
            BearerError::InvalidToken(TokenRefusal::Invalid(TokenInvalid::BadSignature)),
            "bad_signature",
        ),
        (
            BearerError::InvalidToken(TokenRefusal::Invalid(TokenInvalid::UnknownKey)),
            "bad_signature",
        ),
        (
            BearerError::InvalidToken(TokenRefusal::Invalid(TokenInvalid::Expired)),
            "expired",
        ),
        (BearerError::InvalidToken(TokenRefusal::Revoked), "revoked"),
        (
            BearerError::InvalidToken(TokenRefusal::CredentialInactive),
            "credential_inactive",
        ),
        (
            BearerError::InvalidToken(TokenRefusal::CredentialDisabled),
            "credential_disabled",
        ),
        (
            BearerError::InvalidToken(TokenRefusal::CredentialExpired),
            "credential_expired",
        ),
        (
            BearerError::InvalidToken(TokenRefusal::Superseded),
            "rotated",
        ),
        (
            BearerError::InsufficientScope {
                refusal: ScopeRefusal::NotInScope,
                scope: "service:a".into(),
            },
            "scope",
        ),
        (
            BearerError::InsufficientScope {
                refusal: ScopeRefusal::Policy,
                scope: "service:a".into(),
            },
            "policy",
        ),
        (BearerError::UnknownService, "unknown_service"),
    ];
    for (error, reason) in cases {
        assert_eq!(Reason::from(error).as_str(), *reason, "{error:?}");
    }
    use crate::error::ClientAuthFailure as F;
    for (failure, reason) in [
        (F::Missing, "missing_credentials"),
        (F::Malformed("x"), "malformed"),
        (F::UnknownClient, "unknown_client"),
        (F::BadSecret, "bad_secret"),
        (F::Inactive, "credential_inactive"),
        (F::Disabled, "credential_disabled"),
        (F::Expired, "credential_expired"),
        (F::Rotated, "rotated"),
        (F::UsedUp, "uses_exhausted"),
    ] {
        let e = TokenError::InvalidClient {
            failure,
            basic_attempted: false,
        };
        assert_eq!(Reason::from(&e).as_str(), reason);
        // The client reads the same for every failure after authentication was attempted.
        if !matches!(failure, F::Missing | F::Malformed(_)) {
            assert_eq!(
                e.to_response("r").body,
                br#"{"error":"invalid_client","error_description":"client authentication failed"}"#
            );
        }
    }
}

#[test]
fn the_vocabularies_list_every_word_once_in_declaration_order() {
    // `as_str` reads a table by discriminant: `ALL` must follow the declarations.
    for (i, &reason) in Reason::ALL.iter().enumerate() {
        assert_eq!(reason as usize, i, "{reason:?}");
    }
    for (i, &outcome) in Outcome::ALL.iter().enumerate() {
        assert_eq!(outcome as usize, i, "{outcome:?}");
    }
    let mut words: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    words.extend(Outcome::ALL.iter().map(|o| o.as_str()));
    let count = words.len();
    words.sort();
    words.dedup();
    assert_eq!(words.len(), count, "a word used twice");
    assert_eq!(
        Reason::from(&TokenError::UnsupportedGrantType).as_str(),
        "unsupported_grant_type"
    );
}

#[test]
fn the_readme_documents_every_outcome_and_reason() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("## Audit log")
        .nth(1)
        .expect("README has an \"Audit log\" section");
    for word in Outcome::ALL
        .iter()
        .map(|o| o.as_str())
        .chain(Reason::ALL.iter().map(|r| r.as_str()))
    {
        assert!(
            section.contains(&format!("`{word}`")),
            "README's Audit log section does not list `{word}`"
        );
    }
}
