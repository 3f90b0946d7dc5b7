//! The `ISOGATE_AUTH_*` settings: the limits of throttled guessing ([`crate::throttle`]).

use super::{parse_duration, ConfigError};
use crate::throttle::ThrottleConfig;

/// The `ISOGATE_AUTH_*` settings over the defaults.
pub(super) fn throttle_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<ThrottleConfig, ConfigError> {
    let mut t = ThrottleConfig::default();
    for (name, limit) in [
        (
            "ISOGATE_AUTH_FAILURES_PER_MINUTE",
            &mut t.per_client_address,
        ),
        (
            "ISOGATE_AUTH_FAILURES_PER_MINUTE_PER_ADDRESS",
            &mut t.per_address,
        ),
        (
            "ISOGATE_AUTH_FAILURES_PER_MINUTE_PER_CLIENT",
            &mut t.per_client,
        ),
    ] {
        if let Some(v) = get(name) {
            // u64, as the other number settings parse, then bounded (a limit is a count).
            *limit = v
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= u64::from(u32::MAX))
                .ok_or(ConfigError::NotALimit(name))? as i64;
        }
    }
    for (setting, ms) in [
        ("ISOGATE_AUTH_FAILURE_WINDOW", &mut t.window_ms),
        ("ISOGATE_AUTH_LOCKOUT_MAX", &mut t.max_lockout_ms),
    ] {
        if let Some(v) = get(setting) {
            *ms = 1000
                * parse_duration(&v).map_err(|source| ConfigError::Duration { setting, source })?;
        }
    }
    // The cap also forgives strikes: it is never shorter than one window.
    t.max_lockout_ms = t.max_lockout_ms.max(t.window_ms);
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<ThrottleConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        throttle_settings(&|name: &str| map.get(name).cloned())
    }

    #[test]
    fn throttle_settings_default_to_production_limits_and_refuse_garbage() {
        assert_eq!(settings(&[]).unwrap(), ThrottleConfig::default());
        let t = settings(&[
            ("ISOGATE_AUTH_FAILURES_PER_MINUTE", "3"),
            ("ISOGATE_AUTH_FAILURES_PER_MINUTE_PER_ADDRESS", "0"),
            ("ISOGATE_AUTH_FAILURES_PER_MINUTE_PER_CLIENT", "7"),
            ("ISOGATE_AUTH_FAILURE_WINDOW", "5s"),
            ("ISOGATE_AUTH_LOCKOUT_MAX", "2s"),
        ])
        .unwrap();
        let expected = ThrottleConfig {
            per_client_address: 3,
            per_address: 0,
            per_client: 7,
            window_ms: 5_000,
            // Never shorter than the window.
            max_lockout_ms: 5_000,
        };
        assert_eq!(t, expected);
        for (name, value, error) in [
            (
                "ISOGATE_AUTH_FAILURES_PER_MINUTE",
                "-1",
                "must be a whole number",
            ),
            (
                "ISOGATE_AUTH_FAILURES_PER_MINUTE_PER_ADDRESS",
                "1e3",
                "must be a whole",
            ),
            ("ISOGATE_AUTH_FAILURE_WINDOW", "0s", "must be between"),
            ("ISOGATE_AUTH_LOCKOUT_MAX", "forever", "invalid duration"),
        ] {
            let e = settings(&[(name, value)]).err().unwrap();
            let e = e.to_string();
            assert!(e.starts_with(name) && e.contains(error), "{e}");
        }
    }
}
