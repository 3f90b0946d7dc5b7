use super::*;

/// A token issued at `iat` for an hour.
fn t(iat: i64, jti: &str) -> TokenTimes<'_> {
    TokenTimes {
        iat,
        exp: iat + 3600,
        jti,
    }
}

fn rotated(kind: CredentialKind) -> Lifecycle {
    Lifecycle {
        rotated_at: Some(1_000),
        grace_until: Some(1_060),
        token_jti: (kind == CredentialKind::AccessToken).then(|| "new".to_owned()),
        ..Lifecycle::default()
    }
}

#[test]
fn oauth2_tokens_from_before_a_rotation_end_with_its_grace() {
    let l = rotated(CredentialKind::OAuth2);
    let old = |now| l.supersedes(CredentialKind::OAuth2, t(999, "j"), now);
    assert!(!old(1_000) && !old(1_059), "inside the grace");
    assert!(old(1_060) && old(9_999), "from the grace's end on");
    // Issued at or after the rotation (with the new secret): never superseded by it.
    assert!(!l.supersedes(CredentialKind::OAuth2, t(1_000, "j"), 9_999));
    // Issued in the grace with the previous secret (its exp capped to the grace's end): refused
    // from the grace's end on, without the verifier's leeway.
    let capped = TokenTimes {
        iat: 1_030,
        exp: 1_060,
        jti: "j",
    };
    assert!(!l.supersedes(CredentialKind::OAuth2, capped, 1_059));
    assert!(l.supersedes(CredentialKind::OAuth2, capped, 1_060));
}

#[test]
fn a_second_rotation_ends_the_tokens_of_the_first_at_once() {
    let l = Lifecycle {
        previous_rotated_at: Some(1_000),
        rotated_at: Some(2_000),
        grace_until: Some(5_000),
        ..Lifecycle::default()
    };
    assert!(l.supersedes(CredentialKind::OAuth2, t(999, "j"), 2_001));
    assert!(!l.supersedes(CredentialKind::OAuth2, t(1_500, "j"), 2_001));
}

#[test]
fn after_a_grace_only_the_current_access_token_passes() {
    let l = rotated(CredentialKind::AccessToken);
    let at = CredentialKind::AccessToken;
    // The token made at creation (its jti unknown): accepted in the grace only.
    assert!(!l.supersedes(at, t(1, "first"), 1_059));
    assert!(l.supersedes(at, t(1, "first"), 1_060));
    assert!(!l.supersedes(at, t(1_000, "new"), 1_000_000));
    // A second rotation: the first token is not the previous one any more.
    let again = Lifecycle {
        previous_token_jti: Some("new".into()),
        token_jti: Some("newer".into()),
        grace_until: Some(2_000),
        ..l
    };
    assert!(
        again.supersedes(at, t(1, "first"), 1_100),
        "refused at once"
    );
    assert!(!again.supersedes(at, t(1_000, "new"), 1_999));
    assert!(again.supersedes(at, t(1_000, "new"), 2_000));
}

#[test]
fn never_rotated_credentials_supersede_nothing() {
    let l = Lifecycle::default();
    for kind in [CredentialKind::OAuth2, CredentialKind::AccessToken] {
        assert!(!l.supersedes(kind, t(0, "j"), i64::MAX));
    }
    assert!(l.previous_secret(0).is_none() && !l.used_up());
}

#[test]
fn the_previous_secret_is_kept_for_the_grace_only() {
    let l = Lifecycle {
        previous_secret_hash: Some(SecretHash("h".into())),
        ..rotated(CredentialKind::OAuth2)
    };
    assert!(l.previous_secret(1_059).is_some());
    assert!(l.previous_secret(1_060).is_none());
}

#[test]
fn states_in_the_order_an_operator_needs_them() {
    let c = Credential {
        client_id: "c".into(),
        name: "n".into(),
        user_id: 1,
        user: "u".into(),
        kind: CredentialKind::OAuth2,
        secret_hash: None,
        scopes: Default::default(),
        expires_at: Some(2_000),
        enabled: true,
        created_at: 0,
        can_introspect: false,
        require_dpop: false,
        lifecycle: rotated(CredentialKind::OAuth2),
    };
    assert_eq!(c.state(1_000), CredentialState::Rotating);
    assert_eq!(c.state(1_060), CredentialState::Active);
    assert_eq!(c.state(2_000), CredentialState::Expired);
    let used = Credential {
        lifecycle: Lifecycle {
            max_uses: Some(1),
            uses: 1,
            ..Lifecycle::default()
        },
        ..c.clone()
    };
    assert_eq!(used.state(0).as_str(), "used-up");
    let off = Credential {
        enabled: false,
        ..c
    };
    assert_eq!(off.state(5_000).as_str(), "disabled");
}
