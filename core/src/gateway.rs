//! The gateway: one value per isolate holding configuration, keys and caches, and the two
//! request flows every runtime runs.
//!
//! ```text
//! root domain      route ─► parse_token_request ─► (store) credential_status ─► verify_client_secret
//!                        ─► grant_scopes ─► issue_access_token ─► token response
//! <svc>.<DOMAIN>   route ─► extract_bearer ─► validate_access_token ─► (cache/store) credential, service
//!                        ─► decide_access ─► plan_forward ─► runtime fetches the origin
//! ```

use crate::admin;
use crate::cache::{TtlCache, VerifiedTokens};
use crate::error::{BearerError, TokenError};
use crate::forward::{plan_forward, ForwardPlan, Principal};
use crate::http::{RequestHead, Response};
use crate::model::{CredentialKind, CredentialStatus, Service};
use crate::scope::{credential_ceiling, grant_scopes, ScopeSet};
use crate::secret::{SecretHash, TOKEN_ID_BYTES};
use crate::store::{SqlDb, Store};
use crate::token::{
    check_token_time, parse_access_token, unsigned_access_token, validate_access_token, AccessTokenClaims, Ed25519, IssuedToken, KeySet, SigningKey,
    TokenGrant, TokenInvalid, UnsignedToken, MAX_TOKEN_BYTES,
};
use crate::token_request::{parse_client_request, parse_token_request, ClientAuth, ClientRequest, MAX_TOKEN_REQUEST_BYTES};
use std::collections::HashSet;
use std::rc::Rc;
use serde_json::json;

/// Default access token lifetime: one hour.
pub const DEFAULT_TOKEN_TTL_SECS: i64 = 3600;
/// Default lifetime of hot-path cache entries, and so the bound on revocation latency.
pub const DEFAULT_CACHE_TTL_MS: u64 = 5_000;
/// Default wait for an origin's response head.
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 30_000;
/// Largest admin API body.
pub const MAX_ADMIN_BODY_BYTES: usize = 64 * 1024;

/// A source of cryptographically secure random bytes (the runtime's `getrandom`).
pub trait RandomSource {
    fn fill(&mut self, buf: &mut [u8]);
}

/// Deployment settings, read by the runtime from its variables and secrets.
#[derive(Clone)]
pub struct GatewayConfig {
    /// The root domain, optionally with a port: `example.com`, `localhost:8787`.
    pub domain: String,
    /// `iss` of issued tokens and base of published endpoint URLs: `https://example.com`.
    pub issuer: String,
    pub token_ttl_secs: i64,
    pub cache_ttl_ms: u64,
    /// The admin API's bearer secret; `None` disables the admin API.
    pub admin_token: Option<String>,
    /// `realm` of `WWW-Authenticate` challenges.
    pub realm: String,
    /// How long the runtime waits for an origin's response head before answering 504.
    pub upstream_timeout_ms: u64,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("domain", &self.domain)
            .field("issuer", &self.issuer)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("cache_ttl_ms", &self.cache_ttl_ms)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "[redacted]"))
            .field("upstream_timeout_ms", &self.upstream_timeout_ms)
            .finish()
    }
}

impl GatewayConfig {
    /// Settings for `domain` with the defaults; the issuer is `https://<domain>` unless the
    /// domain is local (`localhost`, `127.0.0.1`), which is served over plain HTTP.
    pub fn for_domain(domain: &str) -> GatewayConfig {
        let domain = domain.trim().trim_end_matches('/').to_ascii_lowercase();
        let host = domain.split(':').next().unwrap_or("");
        let scheme = if host == "localhost" || host == "127.0.0.1" { "http" } else { "https" };
        GatewayConfig {
            issuer: format!("{scheme}://{domain}"),
            domain,
            token_ttl_secs: DEFAULT_TOKEN_TTL_SECS,
            cache_ttl_ms: DEFAULT_CACHE_TTL_MS,
            admin_token: None,
            realm: "isogate".into(),
            upstream_timeout_ms: DEFAULT_UPSTREAM_TIMEOUT_MS,
        }
    }
}

/// Why the runtime's settings could not make a gateway. Names the setting, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Builds the gateway from named settings, looked up by `setting` (Workers vars and secrets,
/// Spin variables: the runtimes differ only in how a name is looked up; Spin variable names
/// are the lower-case forms). Settings:
/// - `ISOGATE_DOMAIN` (required): `example.com`, or `localhost:8787` locally;
/// - `ISOGATE_SIGNING_KEY` (secret, required): base64url 32-byte Ed25519 seed;
/// - `ISOGATE_ADMIN_TOKEN` (secret): the admin API credential; unset disables the admin API;
/// - `ISOGATE_ISSUER`: defaults to `https://<domain>` (`http://` for localhost);
/// - `ISOGATE_TOKEN_TTL`: access token lifetime (`3600`, `1h`...), default 1 hour;
/// - `ISOGATE_CACHE_TTL_MS`: hot-path cache lifetime = revocation bound, default 5000;
/// - `ISOGATE_UPSTREAM_TIMEOUT_MS`: default 30000;
/// - `ISOGATE_EXTRA_PUBLIC_KEYS`: comma-separated JWK `x` values of other signing keys,
///   published in the JWKS and accepted: the next key before it becomes current (so resource
///   servers caching the JWKS know it in time), and retired keys until their tokens expire.
pub fn gateway_from_settings(setting: impl Fn(&str) -> Option<String>) -> Result<Gateway, ConfigError> {
    let get = |name: &str| setting(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let domain = get("ISOGATE_DOMAIN").ok_or_else(|| ConfigError("ISOGATE_DOMAIN is not set".into()))?;
    let mut config = GatewayConfig::for_domain(&domain);
    if let Some(issuer) = get("ISOGATE_ISSUER") {
        config.issuer = issuer.trim_end_matches('/').to_owned();
    }
    if let Some(ttl) = get("ISOGATE_TOKEN_TTL") {
        config.token_ttl_secs = crate::admin::parse_duration(&ttl).map_err(|e| ConfigError(format!("ISOGATE_TOKEN_TTL: {e}")))?;
    }
    let number = |name: &str, default: u64| -> Result<u64, ConfigError> {
        get(name).map_or(Ok(default), |v| v.parse().map_err(|_| ConfigError(format!("{name} must be a number of milliseconds"))))
    };
    config.cache_ttl_ms = number("ISOGATE_CACHE_TTL_MS", DEFAULT_CACHE_TTL_MS)?;
    config.upstream_timeout_ms = number("ISOGATE_UPSTREAM_TIMEOUT_MS", DEFAULT_UPSTREAM_TIMEOUT_MS)?;
    config.admin_token = get("ISOGATE_ADMIN_TOKEN");
    let seed = get("ISOGATE_SIGNING_KEY").ok_or_else(|| ConfigError("ISOGATE_SIGNING_KEY is not set".into()))?;
    let signing_key = SigningKey::from_base64_seed(&seed).map_err(|e| ConfigError(format!("ISOGATE_SIGNING_KEY: {e}")))?;
    let extra_keys = get("ISOGATE_EXTRA_PUBLIC_KEYS")
        .unwrap_or_default()
        .split(',')
        .filter(|x| !x.trim().is_empty())
        .map(crate::token::VerifyingKey::from_jwk_x)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError(format!("ISOGATE_EXTRA_PUBLIC_KEYS: {e}")))?;
    Ok(Gateway::new(config, signing_key, extra_keys))
}

/// The answer when the gateway cannot be built from its settings: a 503 that names no value.
pub fn misconfigured_response() -> Response {
    Response::json(503, &json!({ "error": "temporarily_unavailable", "error_description": "the gateway is not configured; see its log" }))
}

/// The answer for a host that is neither the root domain nor a service of it.
pub fn unknown_host_response() -> Response {
    Response::json(404, &json!({ "error": "not_found", "error_description": "unknown host" }))
}

/// The answer when the runtime could not read a request body (the client went away or sent a
/// broken one).
pub fn unreadable_body_response() -> Response {
    Response::json(400, &json!({ "error": "invalid_request", "error_description": "the request body could not be read" }))
}

/// Where a request goes, decided from its `Host` and path alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The root domain: token endpoint, discovery, admin API. Needs the (bounded) body.
    Root { body_limit: usize },
    /// `<name>.<DOMAIN>`: authorize and forward; the body is never read.
    Service(String),
    /// Some other host.
    UnknownHost,
}

/// An authorized service request: forward it.
#[derive(Debug)]
pub struct Authorized {
    pub plan: ForwardPlan,
    pub principal: Principal,
}

pub struct Gateway {
    pub config: GatewayConfig,
    signing_key: SigningKey,
    keys: KeySet,
    services: TtlCache<Option<Service>>,
    credentials: TtlCache<Option<CredentialStatus>>,
    /// Ids of individually revoked tokens (RFC 7009), loaded whole: one storage read per
    /// cache lifetime per isolate, however many tokens are in use.
    revoked: TtlCache<Rc<HashSet<String>>>,
    /// Tokens already verified by this isolate (signature, issuer, audience).
    verified: VerifiedTokens,
}

const REVOKED_SET_KEY: &str = "revoked";

impl Gateway {
    /// `extra_keys` are public keys published and accepted besides the signing key's own (key
    /// rotation: the next key, and retired keys whose tokens must keep validating).
    pub fn new(config: GatewayConfig, signing_key: SigningKey, extra_keys: Vec<crate::token::VerifyingKey>) -> Gateway {
        let mut keys = vec![signing_key.verifying_key().clone()];
        keys.extend(extra_keys.into_iter().filter(|k| k.kid != signing_key.verifying_key().kid));
        Gateway {
            services: TtlCache::new(config.cache_ttl_ms),
            credentials: TtlCache::new(config.cache_ttl_ms),
            revoked: TtlCache::new(config.cache_ttl_ms),
            verified: VerifiedTokens::new(),
            keys: KeySet::new(keys),
            signing_key,
            config,
        }
    }

    pub fn key_set(&self) -> &KeySet {
        &self.keys
    }

    /// Routes on the `Host` header: the root domain, or one DNS label under it.
    pub fn route(&self, head: &RequestHead) -> Route {
        let host = head.host.trim().trim_end_matches('.').to_ascii_lowercase();
        let domain = &self.config.domain;
        // A domain without a port matches a host with one only for the default ports.
        let host = if domain.contains(':') {
            host
        } else {
            host.strip_suffix(":443").or_else(|| host.strip_suffix(":80")).map(str::to_owned).unwrap_or(host)
        };
        if host == *domain {
            let body_limit = if head.path.starts_with("/admin/") { MAX_ADMIN_BODY_BYTES } else { MAX_TOKEN_REQUEST_BYTES };
            return Route::Root { body_limit };
        }
        match host.strip_suffix(domain.as_str()).and_then(|h| h.strip_suffix('.')) {
            Some(label) if crate::model::is_valid_service_name(label) => Route::Service(label.to_owned()),
            _ => Route::UnknownHost,
        }
    }

    /// The root domain's routes. `body` holds at most the route's limit + 1 bytes.
    /// `ed25519` signs the tokens the token endpoint issues.
    pub async fn handle_root<D: SqlDb>(&self, db: &D, ed25519: &impl Ed25519, head: &RequestHead, body: &[u8], now_ms: u64, rng: &mut dyn RandomSource) -> Response {
        let now = (now_ms / 1000) as i64;
        match head.path.as_str() {
            "/oauth2/token" => match self.token_endpoint(db, ed25519, head, body, now, rng).await {
                Ok(resp) => resp,
                Err(e) => e.to_response(&self.config.realm),
            },
            "/oauth2/revoke" => match self.revocation_endpoint(db, head, body, now).await {
                Ok(resp) => resp,
                Err(e) => e.to_response(&self.config.realm),
            },
            "/oauth2/introspect" => match self.introspection_endpoint(db, head, body, now).await {
                Ok(resp) => resp,
                Err(e) => e.to_response(&self.config.realm),
            },
            "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration" => {
                read_only(head, || Response::json(200, &self.metadata()).with_header("cache-control", "public, max-age=300"))
            }
            "/oauth2/jwks" | "/.well-known/jwks.json" => {
                read_only(head, || Response::json(200, &self.keys.to_jwks()).with_header("cache-control", "public, max-age=300"))
            }
            "/healthz" => read_only(head, || Response::json(200, &json!({ "status": "ok" }))),
            p if p.starts_with("/admin/") => admin::handle(self, db, head, body, now, rng).await,
            _ => Response::json(404, &json!({ "error": "not_found", "error_description": "no such endpoint" })),
        }
    }

    /// RFC 8414 authorization server metadata.
    pub fn metadata(&self) -> serde_json::Value {
        let iss = &self.config.issuer;
        json!({
            "issuer": iss,
            "token_endpoint": format!("{iss}/oauth2/token"),
            "jwks_uri": format!("{iss}/oauth2/jwks"),
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint": format!("{iss}/oauth2/revoke"),
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "introspection_endpoint": format!("{iss}/oauth2/introspect"),
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["service:*"],
        })
    }

    /// RFC 6749 §4.4 client credentials grant.
    async fn token_endpoint<D: SqlDb>(&self, db: &D, ed25519: &impl Ed25519, head: &RequestHead, body: &[u8], now: i64, rng: &mut dyn RandomSource) -> Result<Response, TokenError> {
        let request = parse_token_request(head, body)?;
        let status = authenticate_client(db, &request.client, now).await?;
        if request.grant_type != "client_credentials" {
            return Err(TokenError::UnsupportedGrantType);
        }
        let ceiling = credential_ceiling(&status.credential.scopes);
        let granted = grant_scopes(&ceiling, request.scope.as_ref()).map_err(|e| TokenError::InvalidScope(e.0))?;
        let unsigned = self.unsigned_token(&status, &granted, now, None, rng);
        let signature = ed25519.sign(&self.signing_key, unsigned.signing_input()).await;
        let issued = unsigned.finish(signature);
        let mut body = json!({
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.claims.exp - now,
        });
        // §5.1: scope is required in the response when it differs from the request.
        let granted_text = granted.to_string();
        if request.scope_raw.as_deref() != Some(granted_text.as_str()) {
            body["scope"] = granted_text.into();
        }
        Ok(Response::json(200, &body).no_store())
    }

    /// RFC 7009: a client revokes one of its own access tokens. Unknown, malformed or expired
    /// tokens answer 200 (§2.2: the client cannot do anything about them anyway).
    async fn revocation_endpoint<D: SqlDb>(&self, db: &D, head: &RequestHead, body: &[u8], now: i64) -> Result<Response, TokenError> {
        let ClientRequest { client, params } = parse_client_request(head, body)?;
        let status = authenticate_client(db, &client, now).await?;
        let token = params.get("token").ok_or_else(|| TokenError::invalid_request("token is required"))?;
        // `token_type_hint` may be ignored (§2.1): only access tokens exist here.
        if let Ok(claims) = validate_access_token(token, &self.keys, &self.config.issuer, &self.config.issuer, now) {
            if claims.client_id != status.credential.client_id {
                return Err(TokenError::UnauthorizedClient("a client may revoke only its own tokens".into()));
            }
            Store::new(db).revoke_token(&claims.jti, &claims.client_id, claims.exp, now).await?;
            self.revoked.invalidate(REVOKED_SET_KEY);
        }
        Ok(Response::new(200).no_store())
    }

    /// RFC 7662: an authenticated client (a resource server outside the edge) asks whether a
    /// token is active. Reads storage directly, never the cache, so the answer is current.
    async fn introspection_endpoint<D: SqlDb>(&self, db: &D, head: &RequestHead, body: &[u8], now: i64) -> Result<Response, TokenError> {
        let ClientRequest { client, params } = parse_client_request(head, body)?;
        authenticate_client(db, &client, now).await?;
        let token = params.get("token").ok_or_else(|| TokenError::invalid_request("token is required"))?;
        let inactive = || Ok(Response::json(200, &json!({ "active": false })).no_store());
        let Ok(claims) = validate_access_token(token, &self.keys, &self.config.issuer, &self.config.issuer, now) else {
            return inactive();
        };
        let store = Store::new(db);
        let live = store.credential_status(&claims.client_id).await?.is_some_and(|s| s.is_live(now) && s.credential.user == claims.sub);
        if !live || store.is_token_revoked(&claims.jti).await? {
            return inactive();
        }
        // §2.2: the inactive answer carries nothing else; the active one describes the token.
        Ok(Response::json(
            200,
            &json!({
                "active": true, "scope": claims.scope, "client_id": claims.client_id, "username": claims.sub,
                "token_type": "Bearer", "exp": claims.exp, "iat": claims.iat, "sub": claims.sub,
                "aud": claims.aud, "iss": claims.iss, "jti": claims.jti,
            }),
        )
        .no_store())
    }

    /// Signs a token for a credential (portable Ed25519: admin use, not a hot path).
    pub(crate) fn issue(&self, status: &CredentialStatus, scopes: &ScopeSet, now: i64, lifetime: Option<i64>, rng: &mut dyn RandomSource) -> IssuedToken {
        let unsigned = self.unsigned_token(status, scopes, now, lifetime, rng);
        let signature = self.signing_key.sign(unsigned.signing_input());
        unsigned.finish(signature)
    }

    /// A token for a credential, to be signed; its lifetime never outlives the credential.
    fn unsigned_token(&self, status: &CredentialStatus, scopes: &ScopeSet, now: i64, lifetime: Option<i64>, rng: &mut dyn RandomSource) -> UnsignedToken {
        let mut expires_at = now + lifetime.unwrap_or(self.config.token_ttl_secs);
        if let Some(cred_exp) = status.credential.expires_at {
            expires_at = expires_at.min(cred_exp);
        }
        let mut jti = [0u8; TOKEN_ID_BYTES];
        rng.fill(&mut jti);
        let grant = TokenGrant {
            issuer: &self.config.issuer,
            audience: &self.config.issuer,
            subject: &status.credential.user,
            client_id: &status.credential.client_id,
            scopes,
            issued_at: now,
            expires_at,
        };
        unsigned_access_token(&self.signing_key, &grant, &jti)
    }

    /// The service flow up to the forward: authenticate, load, decide, plan. `ed25519` checks
    /// the signature of tokens this isolate has not verified before.
    pub async fn authorize_service<D: SqlDb>(&self, db: &D, ed25519: &impl Ed25519, head: &RequestHead, service_name: &str, now_ms: u64) -> Result<Authorized, Response> {
        self.authorize_service_inner(db, ed25519, head, service_name, now_ms).await.map_err(|e| e.to_response(&self.config.realm))
    }

    async fn authorize_service_inner<D: SqlDb>(&self, db: &D, ed25519: &impl Ed25519, head: &RequestHead, service_name: &str, now_ms: u64) -> Result<Authorized, BearerError> {
        let now = (now_ms / 1000) as i64;
        let token = extract_bearer(head)?;
        let claims = self.verified_claims(ed25519, token, now).await.map_err(|e| BearerError::invalid_token(e.description()))?;
        let status = self.cached_credential(db, &claims.client_id, now_ms).await?;
        let credential = match status {
            Some(s) if s.is_live(now) && s.credential.user == claims.sub => s.credential,
            _ => return Err(BearerError::invalid_token("the credential behind this token was revoked")),
        };
        if self.revoked_token_ids(db, now_ms).await?.contains(&claims.jti) {
            return Err(BearerError::invalid_token("the access token was revoked"));
        }
        let scopes = ScopeSet::parse(&claims.scope).map_err(|_| BearerError::invalid_token("the access token has an invalid scope"))?;
        // Scope first, by name alone: a token cannot probe which services exist outside its
        // scope (existing or not, they all answer 403).
        check_scope(&scopes, service_name)?;
        let service = self.cached_service(db, service_name, now_ms).await?.ok_or(BearerError::UnknownService)?;
        decide_access(&scopes, &claims.sub, &service)?;
        let principal = Principal {
            user: claims.sub.clone(),
            client_id: claims.client_id.clone(),
            credential: credential.name,
            scope: claims.scope.clone(),
            token_id: claims.jti.clone(),
        };
        Ok(Authorized { plan: plan_forward(head, &service, &principal), principal })
    }

    /// [`validate_access_token`], with the signature check skipped for a token this isolate
    /// already verified. Time is checked on every request.
    async fn verified_claims(&self, ed25519: &impl Ed25519, token: &str, now: i64) -> Result<Rc<AccessTokenClaims>, TokenInvalid> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenInvalid::Malformed);
        }
        let digest = VerifiedTokens::digest(token);
        let claims = match self.verified.get(&digest) {
            Some(claims) => claims,
            None => {
                let signed = parse_access_token(token, &self.keys)?;
                let genuine = ed25519.verify(signed.key, signed.signing_input(), &signed.signature).await;
                let claims = Rc::new(signed.claims_if(genuine, &self.config.issuer, &self.config.issuer)?);
                self.verified.put(digest, claims.clone(), now);
                claims
            }
        };
        check_token_time(&claims, now)?;
        Ok(claims)
    }

    async fn cached_credential<D: SqlDb>(&self, db: &D, client_id: &str, now_ms: u64) -> Result<Option<CredentialStatus>, BearerError> {
        if let Some(hit) = self.credentials.get(client_id, now_ms) {
            return Ok(hit);
        }
        let loaded = Store::new(db).credential_status(client_id).await?;
        self.credentials.put(client_id, loaded.clone(), now_ms);
        Ok(loaded)
    }

    async fn revoked_token_ids<D: SqlDb>(&self, db: &D, now_ms: u64) -> Result<Rc<HashSet<String>>, BearerError> {
        if let Some(hit) = self.revoked.get(REVOKED_SET_KEY, now_ms) {
            return Ok(hit);
        }
        let ids: HashSet<String> = Store::new(db).revoked_token_ids((now_ms / 1000) as i64).await?.into_iter().collect();
        let ids = Rc::new(ids);
        self.revoked.put(REVOKED_SET_KEY, ids.clone(), now_ms);
        Ok(ids)
    }

    async fn cached_service<D: SqlDb>(&self, db: &D, name: &str, now_ms: u64) -> Result<Option<Service>, BearerError> {
        if let Some(hit) = self.services.get(name, now_ms) {
            return Ok(hit);
        }
        let loaded = Store::new(db).service(name).await?;
        self.services.put(name, loaded.clone(), now_ms);
        Ok(loaded)
    }

    /// Forgets what this isolate cached about a credential or service after an admin change.
    pub(crate) fn invalidate_credential(&self, client_id: &str) {
        self.credentials.invalidate(client_id);
    }

    pub(crate) fn invalidate_service(&self, name: &str) {
        self.services.invalidate(name);
    }
}

fn read_only(head: &RequestHead, respond: impl FnOnce() -> Response) -> Response {
    match head.method.as_str() {
        "GET" | "HEAD" => respond(),
        _ => Response::json(405, &json!({ "error": "method_not_allowed", "error_description": "use GET" })).with_header("allow", "GET, HEAD"),
    }
}

/// Loads the client's credential (from storage, never the cache: a deleted credential must
/// fail at once) and verifies its secret.
pub async fn authenticate_client<D: SqlDb>(db: &D, client: &ClientAuth, now: i64) -> Result<CredentialStatus, TokenError> {
    let status = Store::new(db).credential_status(client.client_id()).await?;
    verify_client_secret(client, status, now)
}

/// Checks the presented secret against the stored hash in constant time. Unknown client ids
/// cost the same hash as known ones, and every failure reads the same to the client.
pub fn verify_client_secret(client: &ClientAuth, status: Option<CredentialStatus>, now: i64) -> Result<CredentialStatus, TokenError> {
    const NO_SUCH_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    let stored = status.as_ref().and_then(|s| s.credential.secret_hash.clone()).unwrap_or_else(|| NO_SUCH_HASH.into());
    let secret_ok = SecretHash(stored).matches(client.client_secret());
    let fail = || TokenError::InvalidClient { description: "client authentication failed".into(), basic_attempted: client.is_basic() };
    match status {
        Some(s) if secret_ok && s.credential.kind == CredentialKind::OAuth2 && s.is_live(now) => Ok(s),
        _ => Err(fail()),
    }
}

/// RFC 6750 §2: the token comes from `Authorization: Bearer` or `X-Octelium-Auth`, exactly
/// one of them, and never from the query string (§2.3 is deliberately not supported: URLs end
/// up in logs).
pub fn extract_bearer(head: &RequestHead) -> Result<&str, BearerError> {
    // Checked first, whatever the headers hold: a token in the query beside one in a header is
    // two methods at once (§2, §3.1 `invalid_request`), and the query would carry it on to the
    // origin's URL and logs.
    if query_has_access_token(head.query.as_deref()) {
        return Err(BearerError::InvalidRequest("access tokens are not accepted in the query string; use the Authorization header".into()));
    }
    let authorization = head.single_header("authorization").map_err(|_| BearerError::InvalidRequest("repeated authorization header".into()))?;
    let octelium = head.single_header("x-octelium-auth").map_err(|_| BearerError::InvalidRequest("repeated x-octelium-auth header".into()))?;
    let from_authorization = match authorization {
        None => None,
        Some(value) => {
            let value = value.trim();
            let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
            if scheme.eq_ignore_ascii_case("bearer") {
                let token = token.trim();
                if token.is_empty() {
                    return Err(BearerError::InvalidRequest("the bearer token is empty".into()));
                }
                Some(token)
            } else {
                // Some other scheme (Basic, ...) is not a credential for this gateway.
                None
            }
        }
    };
    let from_octelium = octelium.map(str::trim).filter(|t| !t.is_empty());
    match (from_authorization, from_octelium) {
        (Some(_), Some(_)) => Err(BearerError::InvalidRequest("send the access token in one header only".into())),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(BearerError::Missing),
    }
}

fn query_has_access_token(query: Option<&str>) -> bool {
    // Decode the name too: `access%5Ftoken` is the same parameter to any form parser.
    query.is_some_and(|q| {
        q.split('&').any(|p| {
            let name = p.split('=').next().unwrap_or("");
            crate::token_request::form_urldecode(name).as_deref().unwrap_or(name) == "access_token"
        })
    })
}

fn check_scope(scopes: &ScopeSet, service_name: &str) -> Result<(), BearerError> {
    if scopes.allows_service(service_name) {
        return Ok(());
    }
    Err(BearerError::InsufficientScope {
        description: "the access token's scope does not include this service".into(),
        scope: format!("service:{service_name}"),
    })
}

/// The token's scopes must cover the service, and the service's policy must admit the user.
pub fn decide_access(scopes: &ScopeSet, user: &str, service: &Service) -> Result<(), BearerError> {
    check_scope(scopes, &service.name)?;
    if !service.allowed_users.is_empty() && !service.allowed_users.iter().any(|u| u == user) {
        return Err(BearerError::InsufficientScope {
            description: "this service's policy does not admit this user".into(),
            scope: format!("service:{}", service.name),
        });
    }
    Ok(())
}
