//! # isogate-core
//!
//! Everything Isogate decides, with no IO: the OAuth2 token endpoint (RFC 6749 §4.4), access
//! tokens (RFC 9068 JWTs, Ed25519), scopes, service policy, the forwarding plan, the admin API,
//! and every wire error (RFC 6749 §5.2, RFC 6750 §3).
//!
//! **Invariant: no IO inside.** The core never reads a clock, a random source, storage or the
//! network. The runtimes (`workers/` on Cloudflare Workers, `spin/` on Spin) pass in `now`,
//! random bytes ([`gateway::RandomSource`]) and their SQL database ([`store::SqlDb`]), then do
//! what the core returns: send a [`http::Response`], or fetch the origin per a
//! [`forward::ForwardPlan`] and stream both bodies.
//!
//! A request's path through the core reads like the flow (see [`gateway`]):
//! - token endpoint: [`token_request::parse_token_request`] → storage →
//!   [`gateway::verify_client_secret`] → [`scope::grant_scopes`] → [`token::issue_access_token`];
//! - services: [`gateway::extract_bearer`] → [`token::validate_access_token`] → cached
//!   credential and service → [`gateway::decide_access`] → [`forward::plan_forward`].

pub mod admin;
pub mod cache;
pub mod error;
pub mod forward;
pub mod gateway;
pub mod http;
pub mod model;
pub mod scope;
pub mod secret;
pub mod store;
pub mod token;
pub mod token_request;

pub use gateway::{gateway_from_settings, Authorized, ConfigError, Gateway, GatewayConfig, RandomSource, Route};
