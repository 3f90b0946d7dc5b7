//! Host routing: `Gateway::route`, for a domain without a port (`example.com`) and with one
//! (`localhost:8787`).
//!
//! Invariants: never panics; ASCII case never changes the route; the root is exactly the
//! domain (optionally with a trailing dot, and the default ports when the domain names none);
//! a service is exactly one valid DNS label under it; anything else is an unknown host.
#![no_main]

use arbitrary::Arbitrary;
use isogate_core::gateway::{Gateway, Route};
use isogate_core::scope::is_valid_service_name;
use isogate_core::testing::{default_settings, head};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static GATEWAYS: Vec<(String, Gateway)> = ["example.com", "localhost:8787"]
        .iter()
        .map(|domain| {
            let mut s = default_settings();
            s.insert("ISOGATE_DOMAIN".into(), domain.to_string());
            (domain.to_string(), Gateway::from_settings(|n| s.get(n).cloned()).unwrap())
        })
        .collect();
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// Used as is, or as `<prefix><domain><suffix>` when `around` is set.
    host: String,
    around: bool,
    suffix: String,
    which: bool,
}

fuzz_target!(|input: Input| GATEWAYS.with(|gateways| {
    let (domain, gw) = &gateways[input.which as usize];
    let host = if input.around {
        format!("{}{domain}{}", input.host, input.suffix)
    } else {
        input.host.clone()
    };
    let route = |h: &str| gw.route(&head("GET", h, "/", None, &[]));
    let r = route(&host);
    assert_eq!(
        r,
        route(&host.to_ascii_uppercase()),
        "case changed the route of {host:?}"
    );
    assert_eq!(
        r,
        route(&host.to_ascii_lowercase()),
        "case changed the route of {host:?}"
    );
    let mut norm = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if !domain.contains(':') {
        for port in [":443", ":80"] {
            if let Some(h) = norm.strip_suffix(port) {
                norm = h.to_owned();
                break;
            }
        }
    }
    match r {
        Route::Root => assert_eq!(&norm, domain, "{host:?} is not the root"),
        Route::Service(label) => {
            assert!(
                is_valid_service_name(&label),
                "{label:?} is no service name"
            );
            assert_eq!(norm, format!("{label}.{domain}"), "{host:?} is not {label}");
        }
        Route::UnknownHost => {
            assert_ne!(&norm, domain);
            let label = norm.strip_suffix(&format!(".{domain}"));
            assert!(
                !label.is_some_and(is_valid_service_name),
                "{host:?} is a service"
            );
        }
    }
}));
