//! # isogate-core
//!
//! Everything Isogate decides, with no IO: the OAuth2 token endpoint (RFC 6749 §4.4),
//! revocation (RFC 7009) and introspection (RFC 7662), access tokens (RFC 9068 JWTs,
//! Ed25519), scopes, service policy, the forwarding plan and the response filter, the admin
//! API, and every wire error (RFC 6749 §5.2, RFC 6750 §3).
//!
//! **Invariant: no IO inside.** The core never reads a clock, a random source, storage or the
//! network. The runtimes (`workers/` on Cloudflare Workers, `spin/` on Spin) pass in the time
//! ([`capability::Now`]) and their capabilities ([`capability::Capabilities`]: SQL database,
//! Ed25519, random bytes, the secret store and origins' token fetches), then do what the core
//! returns: a [`step::Step`].
//!
//! ## The request as a state machine
//!
//! An adapter is one loop over [`Step`]:
//!
//! ```text
//! let gw = CELL.with(|c| c.gateway(settings))?;           // GatewayCell: once per isolate
//! let mut step = gw.start(caps, head, now).await;         // Gateway::start routes on Host
//! loop {
//!     log(step.diagnostic());
//!     match step {
//!         Step::Respond { response, audit, .. } => {
//!             print(audit.finish(clock()));               // the audit line, if any
//!             return send(response);
//!         }
//!         Step::NeedBody { limit, resume } => step = resume.finish(caps, read(limit)).await,
//!         Step::Forward(f) => return fetch_and_relay(f),  // f.record.relay decides the answer
//!     }                                                   // and finishes its audit line
//! }
//! ```
//!
//! Every decision is one audit line ([`audit`]), formatted here and printed by the runtime.
//!
//! ## The two request flows
//!
//! - token endpoint (root domain): [`token_request::parse_token_request`] → one storage read →
//!   [`oauth::verify_client_secret`] (or, for `private_key_jwt`,
//!   [`client_assertion::verify_client_assertion`] and the `jti` spent) →
//!   [`scope::grant_scopes`] → [`mint::Minter::issue`];
//! - services (`<name>.<DOMAIN>`): [`service::extract_bearer`] → [`verify::Verifier::verify`]
//!   → cached credential, revocation (by `jti`) and service ([`service::ServiceCaches`]) →
//!   [`service::decide_access`] → the service's rate limit, if any ([`rate_limit`]) →
//!   [`forward::plan_forward`] + the signed identity assertion
//!   ([`mint::Minter::identity_assertion`], cached per token and service: [`assertion`]), and
//!   the origin's own credential when the service has one ([`upstream_auth`]) → the runtime
//!   fetches the origin → [`forward::relay`].
//!
//! ## Module map
//!
//! | layer | modules |
//! |---|---|
//! | runtime boundary | [`capability`], [`http`], [`step`], [`gateway`] |
//! | endpoints | [`oauth`] (token, revoke, introspect, metadata, client auth), [`service`], [`admin`] |
//! | tokens | [`mint`] (the one signer), [`verify`] (the one verifier), [`token`], [`assertion`], [`keys`], [`jws`] (client JWTs: EdDSA, ES256, RS256), [`client_assertion`] (`private_key_jwt`), [`dpop`] (RFC 9449 proofs) |
//! | records | [`model`], [`lifecycle`], [`policy`], [`upstream`], [`upstream_auth`], [`path`], [`rate_limit`], [`resource`], [`store`], [`cache`], [`scope`], [`secret`], [`token_request`], [`throttle`] |
//! | settings, errors, audit | [`config`], [`error`], [`forward`], [`audit`] |
//!
//! Dependencies point down the table and never back: no module imports one that imports it.

pub mod admin;
pub mod assertion;
pub mod audit;
pub mod cache;
pub mod capability;
pub mod client_assertion;
pub mod config;
pub mod dpop;
pub mod error;
pub mod federation;
pub mod forward;
pub mod gateway;
pub mod http;
pub mod jws;
pub mod keys;
pub mod lifecycle;
pub mod mint;
pub mod model;
pub mod oauth;
pub mod path;
pub mod policy;
pub mod rate_limit;
pub mod resource;
pub mod scope;
pub mod secret;
pub mod service;
pub mod step;
pub mod store;
pub mod throttle;
pub mod token;
pub mod token_request;
pub mod upstream;
pub mod upstream_auth;
pub mod verify;

// Test support (the `testing` feature): see the module's own documentation.
#[cfg(feature = "testing")]
pub mod testing;

pub use capability::{Capabilities, Now, RandomSource};
pub use gateway::{Gateway, GatewayCell, Route};
pub use step::{Body, Diagnostic, Forward, Resume, Step};
