//! The OAuth 2.0 endpoints of the root domain: token (RFC 6749 §4.4), revocation (RFC 7009),
//! introspection (RFC 7662), client authentication (RFC 6749 §2.3.1) shared by all three, and
//! the documents a client discovers them with (RFC 8414 metadata, the RFC 7517 JWKS, and each
//! service's RFC 9728 protected resource metadata).

pub mod client_auth;
pub mod introspect;
pub mod revoke;
pub mod token;

use crate::dpop::DpopAlg;
use crate::http::Response;
use crate::keys::KeySet;
use crate::resource::{ResourceMetadata, ServiceUrls};
use serde_json::json;

pub use client_auth::{authenticate_client, verify_client_secret};
pub use introspect::introspection_endpoint;
pub use revoke::revocation_endpoint;
pub use token::token_endpoint;

/// Discovery documents may be cached by clients for five minutes.
const DISCOVERY_CACHE_CONTROL: &str = "public, max-age=300";

/// Client authentication methods of the token, revocation and introspection endpoints.
const AUTH_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];

/// The algorithms `private_key_jwt` assertions may be signed with (`Ed25519`: RFC 9864's name
/// of EdDSA with Ed25519).
const ASSERTION_ALGS: [&str; 4] = ["EdDSA", "Ed25519", "ES256", "RS256"];

/// RFC 8414 authorization server metadata for `issuer`.
pub fn metadata(issuer: &str) -> serde_json::Value {
    json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/oauth2/jwks"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        // RFC 8414 §2: the algorithms of private_key_jwt assertions (RFC 7523).
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "scopes_supported": ["service:*"],
        // RFC 8707 `resource` at the token endpoint (a name not in the IANA registry, used by
        // some servers; clients ignore members they do not know, RFC 8414 §3.2).
        "resource_indicators_supported": true,
        // RFC 9449 §5.1: DPoP-bound tokens, with proofs signed by these.
        "dpop_signing_alg_values_supported":
            DpopAlg::SUPPORTED.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
    })
}

/// The metadata document's response.
pub fn metadata_response(issuer: &str) -> Response {
    Response::json(200, &metadata(issuer)).with_header("cache-control", DISCOVERY_CACHE_CONTROL)
}

/// A service's protected resource metadata response (RFC 9728 §3.2).
pub fn resource_metadata_response(urls: &ServiceUrls, issuer: &str, service: &str) -> Response {
    Response::json(200, &ResourceMetadata::of(urls, issuer, service))
        .with_header("cache-control", DISCOVERY_CACHE_CONTROL)
}

/// The JWKS document's response (RFC 7517 §5): every key tokens may be signed with.
pub fn jwks_response(keys: &KeySet) -> Response {
    Response::json(200, &keys.to_jwks()).with_header("cache-control", DISCOVERY_CACHE_CONTROL)
}
