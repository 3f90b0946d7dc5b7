//! Unit tests of the settings: durations, errors that name settings, the admin token's
//! strength, the revocation bound.

use super::*;
use std::collections::HashMap;

#[test]
fn durations_accept_units_and_refuse_garbage() {
    assert_eq!(parse_duration("30d"), Ok(30 * 86400));
    assert_eq!(parse_duration("12h"), Ok(43200));
    assert_eq!(parse_duration("90m"), Ok(5400));
    assert_eq!(parse_duration("45s"), Ok(45));
    assert_eq!(parse_duration("3600"), Ok(3600));
    for bad in [
        "",
        "d",
        "-5d",
        "0s",
        "5y",
        "99999999999999999999d",
        "1.5h",
        "20000d",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
}

fn settings(pairs: &[(&str, &str)]) -> Result<GatewaySettings, ConfigError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    gateway_settings(|name| map.get(name).cloned())
}

const SEED: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";

#[test]
fn settings_errors_name_the_setting_never_its_value() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "ISOGATE_DOMAIN is not set"),
        (
            &[("ISOGATE_DOMAIN", "example.com")],
            "ISOGATE_SIGNING_KEY is not set",
        ),
        (
            &[
                ("ISOGATE_DOMAIN", "example.com"),
                ("ISOGATE_SIGNING_KEY", "sekrit-value"),
            ],
            "ISOGATE_SIGNING_KEY: ",
        ),
        (
            &[
                ("ISOGATE_DOMAIN", "d"),
                ("ISOGATE_SIGNING_KEY", SEED),
                ("ISOGATE_CACHE_TTL_MS", "5s"),
            ],
            "ISOGATE_CACHE_TTL_MS must",
        ),
    ];
    for (pairs, expected) in cases {
        let e = settings(pairs).err().expect("refused").to_string();
        assert!(e.starts_with(expected), "{e}");
        assert!(!e.contains("sekrit"), "{e}");
    }
}

#[test]
fn a_short_or_placeholder_admin_token_is_a_config_error_naming_the_setting_only() {
    let with = |token: &str| {
        settings(&[
            ("ISOGATE_DOMAIN", "example.com"),
            ("ISOGATE_SIGNING_KEY", SEED),
            ("ISOGATE_ADMIN_TOKEN", token),
        ])
    };
    let weak: &[(&str, WeakSecret)] = &[
        ("change-me", WeakSecret::TooShort),
        ("changeme", WeakSecret::TooShort),
        ("admin", WeakSecret::TooShort),
        ("password", WeakSecret::TooShort),
        ("secret", WeakSecret::TooShort),
        ("test", WeakSecret::TooShort),
        // 31 random-looking bytes: one short.
        ("Zq3xV9pLk2WmT7rYb4NcH8sDf6GjA1u", WeakSecret::TooShort),
        (
            "change-me-change-me-change-me-change-me",
            WeakSecret::Placeholder,
        ),
        (
            "CHANGEME-please-0123456789-abcdefghij",
            WeakSecret::Placeholder,
        ),
        (
            "my-password-is-long-enough-for-32-bytes",
            WeakSecret::Placeholder,
        ),
        (
            "adminadminadminadminadminadminadmin",
            WeakSecret::Placeholder,
        ),
        ("00000000000000000000000000000000", WeakSecret::Placeholder),
        ("testtesttesttesttesttesttesttest", WeakSecret::Placeholder),
    ];
    for (token, why) in weak {
        assert_eq!(check_admin_token(token), Err(*why), "{token}");
        let e = with(token).err().expect("refused");
        assert_eq!(e, ConfigError::WeakAdminToken(*why));
        let text = e.to_string();
        assert!(text.starts_with("ISOGATE_ADMIN_TOKEN "), "{text}");
        // (Words as short as "admin" occur in the message's own text.)
        assert!(token.len() < 8 || !text.contains(token), "{text}");
    }
    // What `openssl rand -base64 32`, `-hex 32` and the scripts generate is accepted.
    for good in [
        "q8V1xN4bRzK2pW9mT0cL7sYf3HjD6gAeU5iO8kQwErM=",
        "3f9a0c27e5b14d6a8c2f71e09b3d5a4c6e8f0a1b2c3d4e5f60718293a4b5c6d7",
        "sJ0Y1m2ynCf6rmk-8cTtdiJtvXpU2bBvwqu1bCmxkfI",
    ] {
        assert_eq!(check_admin_token(good), Ok(()), "{good}");
        assert!(with(good).is_ok(), "{good}");
    }
    // Unset or empty still means "admin API disabled".
    assert!(with("").unwrap().config.admin_token.is_none());
}

#[test]
fn the_revocation_bound_is_a_positive_count_default_1000() {
    let with = |v: Option<&str>| {
        let mut pairs = vec![("ISOGATE_DOMAIN", "d"), ("ISOGATE_SIGNING_KEY", SEED)];
        pairs.extend(v.map(|v| ("ISOGATE_MAX_REVOCATIONS_PER_CREDENTIAL", v)));
        settings(&pairs).map(|s| s.config.max_revocations_per_credential)
    };
    assert_eq!(with(None), Ok(1000));
    assert_eq!(with(Some("5")), Ok(5));
    for bad in ["0", "-1", "lots", "1.5"] {
        assert_eq!(
            with(Some(bad)),
            Err(ConfigError::NotCount(
                "ISOGATE_MAX_REVOCATIONS_PER_CREDENTIAL"
            ))
        );
    }
}

#[test]
fn local_domains_are_served_over_plain_http() {
    let s = settings(&[
        ("ISOGATE_DOMAIN", "LocalHost:8787/"),
        ("ISOGATE_SIGNING_KEY", SEED),
    ])
    .unwrap();
    assert_eq!(
        (s.config.domain.as_str(), s.config.issuer.as_str()),
        ("localhost:8787", "http://localhost:8787")
    );
    assert_eq!(
        GatewayConfig::for_domain("example.com").issuer,
        "https://example.com"
    );
    assert!(!format!(
        "{:?}",
        GatewayConfig {
            admin_token: Some("t0p".into()),
            ..s.config
        }
    )
    .contains("t0p"));
}
