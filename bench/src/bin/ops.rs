//! `ops <operation> <iterations>`: runs one of the core's operations `iterations` times on
//! fixed inputs, for instruction counts under `valgrind --tool=callgrind` (see
//! `bench/instructions.sh`, which runs N and 2N iterations and takes the difference so that
//! process start-up and the set-up below cancel out).
//!
//! Everything is deterministic: a fixed Ed25519 seed, a fixed clock, fixed "random" bytes, a
//! fixed request. Each iteration feeds its inputs through `black_box` and consumes the result
//! with it, so the optimizer can neither hoist the work out of the loop nor drop it.
//!
//! `authorize_service*` and `token_endpoint` run the core's whole flows against the core's
//! [`CannedDb`] (fixed records, answered by exact SQL statement, reads counted): with warm
//! caches the service hot path must make no storage read, a refill exactly three, and the
//! binary fails otherwise. The `_after_revocation_flood` variants hold 10,000 revocations of
//! another client, which must cost nothing (issue #10).
//! Any operation that fails exits with status 1.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use isogate_core::assertion::AssertedRequest;
use isogate_core::audit::{AuditContext, AuditLevel, Entry, Outcome, Who};
use isogate_core::cache::IsolateCounts;
use isogate_core::capability::{InstanceMemory, LocalFuture, NoOriginSecrets, OriginSecrets};
use isogate_core::client_assertion::{verify_client_assertion, Expected};
use isogate_core::config::GatewayConfig;
use isogate_core::dpop::{check_proof, ProofTarget};
use isogate_core::forward::{plan_forward, Principal, UpstreamOutcome};
use isogate_core::http::RequestHead;
use isogate_core::jws::{JwkSet, JwsAlg, JwsVerifier, PortableJws, PublicJwk};
use isogate_core::keys::{Ed25519, KeySet, PortableEd25519, SigningKey, VerifyingKey};
use isogate_core::mint::{Grant, Minter};
use isogate_core::model::{
    Credential, CredentialKind, CredentialStatus, Lifecycle, Rule, Service, UpstreamAuth,
};
use isogate_core::oauth::verify_client_secret;
use isogate_core::policy::{self, parse_rule, Condition, Verdict};
use isogate_core::rate_limit::{Limited, RateLimit, Window, MAX_REQUESTS};
use isogate_core::scope::ScopeSet;
use isogate_core::secret::Secret;
use isogate_core::service::{authorize_service, decide_access, Seen};
use isogate_core::testing::{
    assertion_claims, block_on, head, CannedDb, ClientKey, DpopKey, FakeSecrets, FixedRandom,
    CLIENT_IP,
};
use isogate_core::throttle::{AuthThrottle, FailureCount, Lockouts, ThrottleConfig};
use isogate_core::token_request::parse_token_request;
use isogate_core::verify::Verifier;
use isogate_core::{Body, Capabilities, Gateway, Now, Step};
use std::fmt::Debug;
use std::hint::black_box;
use std::rc::Rc;

const SEED: [u8; 32] = [7; 32];
/// The token id bytes: every "random" byte is 9.
const RANDOM: FixedRandom = FixedRandom(9);
/// 2023-11-14T22:13:20Z: the fixed clock of every operation.
const NOW: Now = Now::from_unix_ms(1_700_000_000_000);
const DOMAIN: &str = "bench.test";
const ISSUER: &str = "https://bench.test";
const CLIENT_ID: &str = "ky9f-mmt2";
const CLIENT_SECRET: &str = "avC2b9vsFoZRheTYr_JpOkmnn4crP6B35aDB2RU9xC4";
const SERVICE: &str = "my-api";

const OPERATIONS: &[(&str, &str)] = &[
    ("parse_token_request", "parse a client_secret_post token request (head + form body)"),
    ("verify_client_secret", "hash the presented secret, compare in constant time, check the credential"),
    ("issue_access_token", "build and sign an RFC 9068 access token (Ed25519): Minter::issue"),
    ("validate_access_token", "decode, verify the signature, check the claims of an access token: Verifier::validate"),
    ("signature_check_only", "ed25519-compact verify of the same token's signing input, nothing else"),
    ("dpop_proof_check", "check a DPoP proof (RFC 9449 §4.3) for a service request: decode, jwk, htm/htu/iat/ath/jkt, Ed25519 (portable): dpop::check_proof"),
    ("dpop_proof_check_es256", "dpop_proof_check with an ES256 (P-256, the p256 crate) proof: openid-client v6's default key"),
    ("decide_access", "scope and service policy decision"),
    ("plan_forward", "build the forward plan (headers filtered, identity attached, URL)"),
    ("authorize_service", "the whole service flow with warm caches: bearer, verify, cache, decide, plan, cached assertion"),
    ("authorize_service_after_revocation_flood", "authorize_service with 10,000 tokens of another client revoked"),
    ("authorize_service_refill", "the service flow after the record caches expired: 3 storage reads (credential, jti, service)"),
    ("authorize_service_refill_after_revocation_flood", "authorize_service_refill with 10,000 tokens of another client revoked"),
    ("authorize_service_rate_limited", "authorize_service on a service with a rate limit (counted in isolate memory, as on Workers)"),
    ("authorize_service_upstream_bearer", "authorize_service on a service with bearer upstream auth: the secret looked up by name and set after the strip"),
    ("authorize_service_upstream_oauth2", "authorize_service on a service with oauth2-client-credentials upstream auth, its origin token cached in the isolate"),
    ("authorize_service_lifecycle", "authorize_service for a credential rotated (in its grace, after an earlier rotation) with a scope ceiling: the lifecycle checks on the cached record"),
    ("authorize_service_with_policy", "authorize_service on a service with a 10-rule policy, the matching rule last (the user in 2 groups)"),
    ("authorize_service_all_features", "authorize_service on a service with a rate limit, a 10-rule policy and bearer upstream auth, the assertion cached, plus the forward's audit line: the hot-path budget"),
    ("authorize_service_dpop", "authorize_service with a DPoP-bound token: the proof of each request checked (Ed25519, portable) and recorded against replay"),
    ("rule_evaluation", "policy::evaluate of a 10-rule policy on the bench request, the matching rule last"),
    ("rate_limit_check", "count a request of a credential already counted in the isolate and decide: IsolateCounts::hit + RateLimit::decide"),
    ("rate_limit_headers", "the Retry-After, RateLimit-Policy and RateLimit values of a 429: Limited::headers"),
    ("assertion_sign", "build and sign an identity assertion (Ed25519, portable): Minter::sign_assertion"),
    ("assertion_cached", "the warm lookup of an identity assertion signed before: Minter::identity_assertion"),
    ("client_assertion_eddsa", "private_key_jwt: parse, select the key, verify (Ed25519, portable: Spin's path), check the claims of a client assertion"),
    ("client_assertion_es256", "client_assertion_eddsa with an ES256 (P-256, the p256 crate) assertion"),
    ("client_assertion_rs256", "client_assertion_eddsa with an RS256 (RSA-2048, the rsa crate) assertion"),
    ("client_assertion_claims", "a client assertion's parse, key selection and claim checks without the signature (what the worker's wasm runs; Web Crypto verifies)"),
    ("token_endpoint", "Gateway::start + NeedBody + finish: parse, load (canned db), verify, grant, issue, respond"),
    ("token_endpoint_resource", "token_endpoint with one RFC 8707 resource: parsed, in scope, the service found (cached), aud set to it"),
    ("resource_metadata", "Gateway::start for a service's RFC 9728 metadata with a warm service cache: the document, no read"),
    ("throttle_check", "what every client authentication adds: its throttle keys, the isolate's lockouts, the lockouts read judged"),
    ("token_throttled", "a token request on a lockout this isolate knows: Gateway::start + finish answered 429, no read, no hash"),
    ("audit_line", "format one forwarded request's audit line (who, what, outcome, status, duration)"),
    ("service_request", "what a runtime runs for a warm service request: Gateway::start (request id, authorize_service) + relay of a 200, audit line (ISOGATE_AUDIT=all)"),
    ("service_request_audit_off", "service_request with ISOGATE_AUDIT=off: request id and relay, no line"),
    ("service_request_all_features", "service_request on the all-features service (rate limit, 10-rule policy, bearer upstream auth, audit line)"),
];

/// Exits with status 1 (and says why) unless the operation succeeded.
fn ok<T, E: Debug>(op: &str, result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| {
        eprintln!("{op} failed: {e:?}");
        std::process::exit(1)
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(op), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u64>().ok())) else {
        eprintln!("usage: ops <operation> <iterations>\noperations:");
        for (name, what) in OPERATIONS {
            eprintln!("  {name:<24} {what}");
        }
        std::process::exit(2);
    };
    let f = Fixture::new();
    let op = op.as_str();
    match op {
        "parse_token_request" => {
            for _ in 0..n {
                let r = parse_token_request(
                    black_box(&f.token_head),
                    black_box(f.token_body.as_bytes()),
                );
                black_box(ok(op, r));
            }
        }
        "verify_client_secret" => {
            let client = ok(
                op,
                parse_token_request(&f.token_head, f.token_body.as_bytes()),
            )
            .client;
            for _ in 0..n {
                // The store hands over an owned record each time; the clone is part of the step.
                let status = Some(black_box(&f.status).clone());
                black_box(ok(
                    op,
                    verify_client_secret(black_box(&client), status, black_box(NOW)),
                ));
            }
        }
        "issue_access_token" => {
            for _ in 0..n {
                let grant = Grant {
                    credential: black_box(&f.status.credential),
                    scopes: black_box(&f.scopes),
                    lifetime_secs: None,
                    jkt: None,
                };
                black_box(block_on(f.minter.issue(
                    &PortableEd25519,
                    &RANDOM,
                    grant,
                    black_box(NOW),
                )));
            }
        }
        "validate_access_token" => {
            let at = Now::from_unix_ms(NOW.unix_ms() + 60_000);
            for _ in 0..n {
                let r = block_on(f.verifier.validate(
                    &PortableEd25519,
                    black_box(&f.token),
                    black_box(at),
                ));
                black_box(ok(op, r));
            }
        }
        "signature_check_only" => {
            // What validation cannot avoid: one Ed25519 verification of `header.claims`.
            let public = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(SEED)).pk;
            let (signed, s64) = f.token.rsplit_once('.').unwrap();
            let signature =
                ed25519_compact::Signature::from_slice(&B64URL.decode(s64).unwrap()).unwrap();
            for _ in 0..n {
                ok(
                    op,
                    black_box(
                        black_box(&public)
                            .verify(black_box(signed.as_bytes()), black_box(&signature)),
                    ),
                );
            }
        }
        "dpop_proof_check" | "dpop_proof_check_es256" => {
            // The proof a client sends with its bound token for GET https://my-api.bench.test/.
            let key = match op {
                "dpop_proof_check" => DpopKey::new(1),
                _ => DpopKey::es256(1),
            };
            let url = "https://my-api.bench.test/";
            let proof = key.proof("GET", url, NOW.unix_secs(), Some(&f.token));
            let jkt = key.thumbprint();
            let target = ProofTarget {
                method: "GET",
                url,
                access_token: Some(&f.token),
                bound_to: Some(&jkt),
            };
            for _ in 0..n {
                let r = block_on(check_proof(
                    &PortableEd25519,
                    &PortableJws,
                    black_box(&proof),
                    black_box(&target),
                    black_box(NOW),
                ));
                black_box(ok(op, r));
            }
        }
        "decide_access" => {
            let scopes = ScopeSet::parse("service:*").unwrap();
            let request = f.policy_request(&scopes);
            for _ in 0..n {
                ok(
                    op,
                    black_box(decide_access(black_box(&request), black_box(&f.service))),
                );
            }
        }
        "rule_evaluation" => {
            let scopes = ScopeSet::parse("service:*").unwrap();
            let request = f.policy_request(&scopes);
            let rules = ten_rules();
            for _ in 0..n {
                let verdict = policy::evaluate(black_box(&rules), black_box(&request));
                if verdict != Verdict::Allow(Some(9)) {
                    eprintln!("{op}: {verdict:?} (expected the last rule to allow)");
                    std::process::exit(1);
                }
            }
        }
        "plan_forward" => {
            let principal = f.principal();
            for _ in 0..n {
                black_box(ok(
                    op,
                    plan_forward(
                        black_box(&f.service_head),
                        black_box(&f.service),
                        black_box(&principal),
                    ),
                ));
            }
        }
        "client_assertion_eddsa"
        | "client_assertion_es256"
        | "client_assertion_rs256"
        | "client_assertion_claims" => {
            let alg = match op {
                "client_assertion_es256" => JwsAlg::ES256,
                "client_assertion_rs256" => JwsAlg::RS256,
                _ => JwsAlg::EdDSA,
            };
            let key = ClientKey::new(alg, 3, "bench-key");
            let keys = ok(op, JwkSet::parse(&key.public_jwk().to_string()));
            let token_endpoint = format!("{ISSUER}/oauth2/token");
            let claims = assertion_claims(CLIENT_ID, &token_endpoint, NOW.unix_secs(), 60, "jti-1");
            let assertion = key.sign(&claims, &serde_json::json!({}));
            let expected = Expected {
                client_id: CLIENT_ID,
                issuer: ISSUER,
                endpoint: "/oauth2/token",
            };
            // The signature check answered "genuine" at no cost: the core's own share.
            struct Genuine;
            impl JwsVerifier for Genuine {
                fn verify<'a>(
                    &'a self,
                    _: JwsAlg,
                    _: &'a PublicJwk,
                    _: &'a [u8],
                    _: &'a [u8],
                ) -> LocalFuture<'a, bool> {
                    Box::pin(std::future::ready(true))
                }
            }
            let verifier: &dyn JwsVerifier = match op {
                "client_assertion_claims" => &Genuine,
                _ => &PortableJws,
            };
            for _ in 0..n {
                black_box(ok(
                    op,
                    block_on(verify_client_assertion(
                        verifier,
                        black_box(&assertion),
                        black_box(&keys),
                        expected,
                        NOW.unix_secs(),
                    )),
                ));
            }
        }
        "assertion_sign" | "assertion_cached" => {
            let principal = f.principal();
            let digest = [5u8; 32];
            let request = AssertedRequest {
                token_digest: &digest,
                token_expires_at: NOW.unix_secs() + 3600,
                service: SERVICE,
                principal: &principal,
            };
            if op == "assertion_sign" {
                for _ in 0..n {
                    black_box(block_on(f.minter.sign_assertion(
                        &PortableEd25519,
                        black_box(&request),
                        black_box(NOW),
                    )));
                }
            } else {
                // Signed once (the cold request), then looked up.
                block_on(f.minter.identity_assertion(&PortableEd25519, &request, NOW));
                for _ in 0..n {
                    black_box(block_on(f.minter.identity_assertion(
                        &PanickingEd25519,
                        black_box(&request),
                        black_box(NOW),
                    )));
                }
            }
        }
        "authorize_service" => {
            let _ballast = flood_ballast();
            authorize_warm(op, n, &f, &f.db)
        }
        "authorize_service_after_revocation_flood" => authorize_warm(op, n, &f, &f.flooded_db()),
        "authorize_service_rate_limited" => {
            let _ballast = flood_ballast();
            authorize_warm(op, n, &f, &f.limited_db())
        }
        "authorize_service_upstream_bearer" | "authorize_service_upstream_oauth2" => {
            let _ballast = flood_ballast();
            let spec = match op {
                "authorize_service_upstream_bearer" => "bearer:ORIGIN_TOKEN",
                _ => "oauth2-client-credentials:https://auth.bench.test/token,gw,ORIGIN_TOKEN",
            };
            let secrets = FakeSecrets::with(&[("ORIGIN_TOKEN", "origin-secret-0123456789abcdef")]);
            let db = f.db_with(Service {
                upstream_auth: Some(UpstreamAuth::parse(spec).unwrap()),
                ..f.service.clone()
            });
            authorize_warm_with(op, n, &f, &db, &secrets);
            // The token was fetched once, by the warm-up request (bearer: never).
            if secrets.fetches.get() > 1 {
                eprintln!(
                    "{op}: {} token fetches (expected at most 1)",
                    secrets.fetches.get()
                );
                std::process::exit(1);
            }
        }
        "authorize_service_lifecycle" => {
            let _ballast = flood_ballast();
            authorize_warm(op, n, &f, &f.lifecycle_db())
        }
        "authorize_service_with_policy" => {
            let _ballast = flood_ballast();
            authorize_warm(op, n, &f, &f.policy_db())
        }
        // Out of `main`, as `token_endpoint_resource` below.
        "authorize_service_all_features" => authorize_all_features(op, n, &f),
        "authorize_service_dpop" => authorize_dpop(op, n, &f),
        "authorize_service_refill" => {
            let _ballast = flood_ballast();
            authorize_refill(op, n, &f, &f.db)
        }
        "authorize_service_refill_after_revocation_flood" => {
            authorize_refill(op, n, &f, &f.flooded_db())
        }
        "rate_limit_check" => {
            let counts = IsolateCounts::new();
            let limit = RateLimit::new(MAX_REQUESTS, Window::Second).unwrap();
            // Counted once (the credential's first request), then counted again.
            counts.hit(limit, SERVICE, CLIENT_ID, NOW.unix_ms());
            for _ in 0..n {
                let count = counts.hit(
                    black_box(limit),
                    black_box(SERVICE),
                    black_box(CLIENT_ID),
                    black_box(NOW.unix_ms()),
                );
                ok(op, black_box(limit.decide(count, NOW.unix_ms())));
            }
        }
        "rate_limit_headers" => {
            let limited = Limited {
                limit: RateLimit::new(100, Window::Second).unwrap(),
                retry_after_secs: 1,
            };
            for _ in 0..n {
                black_box(black_box(&limited).headers());
            }
        }
        "token_endpoint" => {
            let gw = f.gateway();
            let caps = Capabilities {
                db: &f.db,
                ed25519: &PortableEd25519,
                random: &RANDOM,
                memory: InstanceMemory::Kept,
                secrets: &NoOriginSecrets,
                jws: &isogate_core::jws::PortableJws,
            };
            for _ in 0..n {
                // The runtime hands over the head and the body it read; both are the step's.
                let step = block_on(gw.start(caps, black_box(&f.token_head).clone(), NOW));
                let Step::NeedBody { resume, .. } = step else {
                    eprintln!(
                        "token_endpoint: the token endpoint did not ask for its body: {step:?}"
                    );
                    std::process::exit(1);
                };
                let body = Body::Complete(black_box(f.token_body.as_bytes()).to_vec());
                match block_on(resume.finish(caps, body)) {
                    Step::Respond { response, .. } if response.status == 200 => {
                        black_box(response);
                    }
                    other => {
                        eprintln!("token_endpoint: expected a 200 response, got {other:?}");
                        std::process::exit(1);
                    }
                }
            }
        }
        // Out of `main` (as `authorize_warm`): a bigger `main` changes what LLVM inlines into
        // the other operations' loops, and so their counts.
        "token_endpoint_resource" => token_endpoint_resource(op, n, &f),
        "resource_metadata" => resource_metadata(op, n, &f),
        "service_request_all_features" => service_request_all_features(op, n, &f),
        "throttle_check" => {
            let throttle = AuthThrottle::new(ThrottleConfig::default());
            // The lockouts of an attempt from an address with no failure (what the one read
            // returns almost always).
            let lockouts = Lockouts::default();
            for _ in 0..n {
                let attempt = throttle
                    .config()
                    .client_attempt(black_box(CLIENT_ID), black_box(Some(CLIENT_IP)));
                let lockout = throttle
                    .known_lockout(&attempt, black_box(NOW))
                    .or_else(|| throttle.judge(&attempt, black_box(lockouts), NOW));
                if lockout.is_some() {
                    eprintln!("throttle_check: a clean attempt was throttled");
                    std::process::exit(1);
                }
                black_box(attempt);
            }
        }
        "token_throttled" => {
            let locked_until = NOW.unix_ms() as i64 + 60_000;
            let db = CannedDb::new()
                .with_credential(f.status.clone())
                .with_failure_count(
                    &format!("c|{CLIENT_IP}|{CLIENT_ID}"),
                    FailureCount {
                        window_start: locked_until,
                        failures: 0,
                        strikes: 1,
                        locked_until,
                        expires_at: locked_until + 3_600_000,
                    },
                );
            let gw = f.gateway();
            let caps = Capabilities {
                db: &db,
                ed25519: &PanickingEd25519,
                random: &RANDOM,
                memory: InstanceMemory::Kept,
                secrets: &NoOriginSecrets,
                jws: &isogate_core::jws::PortableJws,
            };
            let throttled = |head: &RequestHead| {
                let Step::NeedBody { resume, .. } = block_on(gw.start(caps, head.clone(), NOW))
                else {
                    eprintln!("token_throttled: the token endpoint did not ask for its body");
                    std::process::exit(1);
                };
                let body = Body::Complete(black_box(f.token_body.as_bytes()).to_vec());
                match block_on(resume.finish(caps, body)) {
                    Step::Respond { response, .. } if response.status == 429 => response,
                    other => {
                        eprintln!("token_throttled: expected a 429 response, got {other:?}");
                        std::process::exit(1);
                    }
                }
            };
            // The first attempt reads the lockout (with the credential); this isolate then
            // knows it.
            throttled(&f.token_head);
            let warm = db.reads();
            for _ in 0..n {
                black_box(throttled(black_box(&f.token_head)));
            }
            let reads = db.reads() - warm;
            if reads != 0 {
                eprintln!(
                    "token_throttled: {reads} storage reads in {n} throttled requests (expected 0)"
                );
                std::process::exit(1);
            }
        }
        "audit_line" => {
            let seen = f.seen();
            let head = &f.service_head;
            let audit = AuditContext::new(AuditLevel::All, head, &RANDOM, NOW);
            for _ in 0..n {
                let entry = Entry {
                    head: black_box(head),
                    service: Some(SERVICE),
                    who: Who::from(black_box(&seen)),
                    admin: None,
                    outcome: Outcome::Forwarded,
                    reason: None,
                    status: 200,
                };
                let line = black_box(&audit).record(&entry).finish(black_box(NOW));
                black_box(ok(op, line.ok_or("no line")));
            }
        }
        "service_request" | "service_request_audit_off" => {
            let mut config = GatewayConfig::for_domain(DOMAIN);
            if op == "service_request_audit_off" {
                config.audit = AuditLevel::Off;
            }
            let gw = Gateway::new(config, SigningKey::from_seed(SEED), vec![]);
            let caps = Capabilities {
                db: &f.db,
                ed25519: &PortableEd25519,
                random: &RANDOM,
                memory: InstanceMemory::Kept,
                secrets: &NoOriginSecrets,
                jws: &isogate_core::jws::PortableJws,
            };
            let origin = [
                ("content-type".to_owned(), "application/json".to_owned()),
                ("content-length".to_owned(), "42".to_owned()),
                (
                    "date".to_owned(),
                    "Tue, 14 Nov 2023 22:13:20 GMT".to_owned(),
                ),
            ];
            let request = |head: &RequestHead| {
                let Step::Forward(forward) = block_on(gw.start(caps, head.clone(), NOW)) else {
                    eprintln!("{op}: the service request was not forwarded");
                    std::process::exit(1)
                };
                let responded = UpstreamOutcome::Responded {
                    status: 200,
                    headers: &origin,
                };
                forward.record.relay(responded, NOW)
            };
            // Warm the isolate's caches, as for authorize_service.
            request(&f.service_head);
            let warm = f.db.reads();
            for _ in 0..n {
                let (relayed, line) = request(black_box(&f.service_head));
                if line.is_some() != (op == "service_request") {
                    eprintln!("{op}: unexpected audit line {line:?}");
                    std::process::exit(1);
                }
                black_box((relayed, line));
            }
            if f.db.reads() != warm {
                eprintln!("{op}: storage reads with warm caches (expected 0)");
                std::process::exit(1);
            }
        }
        other => {
            eprintln!("unknown operation {other:?}; run without arguments for the list");
            std::process::exit(2);
        }
    }
}

/// `token_endpoint` with one RFC 8707 resource in the form.
#[inline(never)]
fn token_endpoint_resource(op: &str, n: u64, f: &Fixture) {
    let gw = f.gateway();
    let caps = Capabilities {
        db: &f.db,
        ed25519: &PortableEd25519,
        random: &RANDOM,
        memory: InstanceMemory::Kept,
        secrets: &NoOriginSecrets,
        jws: &isogate_core::jws::PortableJws,
    };
    let form = format!("{}&resource=https%3A%2F%2F{SERVICE}.{DOMAIN}", f.token_body);
    let issue = || {
        // The runtime hands over the head and the body it read; both are the step's.
        let step = block_on(own(gw.start(caps, black_box(&f.token_head).clone(), NOW)));
        let Step::NeedBody { resume, .. } = step else {
            eprintln!("{op}: the token endpoint did not ask for its body: {step:?}");
            std::process::exit(1);
        };
        let body = Body::Complete(black_box(form.as_bytes()).to_vec());
        match block_on(own(resume.finish(caps, body))) {
            Step::Respond { response, .. } if response.status == 200 => response,
            other => {
                eprintln!("{op}: expected a 200 response, got {other:?}");
                std::process::exit(1);
            }
        }
    };
    // The service is read once, then found in the isolate's cache.
    issue();
    for _ in 0..n {
        black_box(issue());
    }
}

/// A service's RFC 9728 metadata through `Gateway::start`, the service record cached.
#[inline(never)]
fn resource_metadata(op: &str, n: u64, f: &Fixture) {
    let gw = f.gateway();
    let caps = Capabilities {
        db: &f.db,
        ed25519: &PanickingEd25519,
        random: &RANDOM,
        memory: InstanceMemory::Kept,
        secrets: &NoOriginSecrets,
        jws: &isogate_core::jws::PortableJws,
    };
    let service_host = format!("{SERVICE}.{DOMAIN}");
    let metadata = head(
        "GET",
        &service_host,
        "/.well-known/oauth-protected-resource",
        None,
        &[
            ("host", service_host.as_str()),
            ("accept", "application/json"),
        ],
    );
    let fetch = |head: &RequestHead| match block_on(own(gw.start(caps, head.clone(), NOW))) {
        Step::Respond { response, .. } if response.status == 200 => response,
        other => {
            eprintln!("{op}: expected a 200 response, got {other:?}");
            std::process::exit(1);
        }
    };
    fetch(&metadata);
    let warm = f.db.reads();
    for _ in 0..n {
        black_box(fetch(black_box(&metadata)));
    }
    if f.db.reads() != warm {
        eprintln!("{op}: storage reads with a warm service cache (expected 0)");
        std::process::exit(1);
    }
}

/// The secret of the all-features service's `bearer` upstream auth, in the runtime's store.
const ORIGIN_SECRET: (&str, &str) = ("ORIGIN_TOKEN", "origin-secret-0123456789abcdef");

/// The hot-path budget of issue #14: `authorize_service` with warm caches on a service with
/// every per-request feature a service can have on (a rate limit never reached, counted in the
/// isolate; the 10-rule policy of `authorize_service_with_policy`; `bearer` upstream auth; the
/// identity assertion, cached), plus the audit line of the forward (`ISOGATE_AUDIT=all`, the
/// default). DPoP is the client's opt-in, measured apart (`authorize_service_dpop`).
/// bench/lib/instructions.mjs fails when it costs over 1.5x the 57k of the plain operation.
#[inline(never)]
fn authorize_all_features(op: &str, n: u64, f: &Fixture) {
    let _ballast = flood_ballast();
    let db = f.db_with(f.all_features_service());
    let secrets = FakeSecrets::with(&[ORIGIN_SECRET]);
    let gw = f.gateway();
    let caps = Capabilities {
        db: &db,
        ed25519: &PortableEd25519,
        random: &RANDOM,
        memory: InstanceMemory::Kept,
        secrets: &secrets,
        jws: &isogate_core::jws::PortableJws,
    };
    let request = |head: &RequestHead| {
        let mut seen = Seen::default();
        let authorized = block_on(own(authorize_service(
            gw.verifier(),
            gw.minter(),
            gw.caches(),
            caps,
            head,
            SERVICE,
            NOW,
            &mut seen,
        )));
        let authorized = ok(op, authorized);
        // The line the relay writes once the origin answered (a context per request, as the
        // gateway makes one: the request id).
        let audit = AuditContext::new(AuditLevel::All, head, &RANDOM, NOW);
        let entry = Entry {
            head,
            service: Some(SERVICE),
            who: Who::from(&seen),
            admin: None,
            outcome: Outcome::Forwarded,
            reason: None,
            status: 200,
        };
        let line = ok(op, audit.record(&entry).finish(NOW).ok_or("no audit line"));
        (authorized, line)
    };
    // Warm-up: every cache filled, the assertion signed. The features are really on: the plan
    // carries the origin's credential and the assertion.
    let (first, _) = request(&f.service_head);
    let has = |name: &str| first.plan.headers.iter().any(|(n, _)| n == name);
    if !has("authorization") || !has(isogate_core::assertion::ASSERTION_HEADER) {
        eprintln!("{op}: the forward lacks the upstream credential or the assertion");
        std::process::exit(1);
    }
    let warm = db.reads();
    for _ in 0..n {
        black_box(request(black_box(&f.service_head)));
    }
    if db.reads() != warm {
        eprintln!("{op}: storage reads with warm caches (expected 0)");
        std::process::exit(1);
    }
    if secrets.fetches.get() != 0 {
        eprintln!("{op}: a bearer upstream credential made a fetch");
        std::process::exit(1);
    }
}

/// Proofs made before the loop of `authorize_service_dpop`, one per request (each its own
/// `jti`: a proof is accepted once), the same number whatever `n` so that making them cancels
/// out of count(2N) - count(N).
const DPOP_PROOFS: usize = 201;

/// `authorize_service` with warm caches for a DPoP-bound token (RFC 9449 §7): the token's
/// signature is remembered, the proof of each request is checked (Ed25519, portable) and
/// recorded in the isolate against replay.
#[inline(never)]
fn authorize_dpop(op: &str, n: u64, f: &Fixture) {
    if n as usize >= DPOP_PROOFS {
        eprintln!("{op}: at most {} iterations", DPOP_PROOFS - 1);
        std::process::exit(2);
    }
    let _ballast = flood_ballast();
    let key = DpopKey::new(1);
    let jkt = key.thumbprint();
    let grant = Grant {
        credential: &f.status.credential,
        scopes: &f.scopes,
        lifetime_secs: None,
        jkt: Some(&jkt),
    };
    let token = block_on(f.minter.issue(&PortableEd25519, &RANDOM, grant, NOW)).access_token;
    let host = format!("{SERVICE}.{DOMAIN}");
    let path = "/anything/items";
    let url = isogate_core::dpop::request_url("https", &host, path);
    let authorization = format!("DPoP {token}");
    let heads: Vec<RequestHead> = (0..DPOP_PROOFS)
        .map(|_| {
            let proof = key.proof("GET", &url, NOW.unix_secs(), Some(&token));
            let headers = [
                ("host", host.as_str()),
                ("user-agent", "bench/1.0"),
                ("accept", "*/*"),
                ("accept-encoding", "gzip"),
                ("authorization", authorization.as_str()),
                ("dpop", proof.as_str()),
            ];
            head("GET", &host, path, Some("page=2&sort=name"), &headers)
        })
        .collect();
    let gw = f.gateway();
    let caps = Capabilities {
        db: &f.db,
        ed25519: &PortableEd25519,
        random: &RANDOM,
        memory: InstanceMemory::Kept,
        secrets: &NoOriginSecrets,
        jws: &isogate_core::jws::PortableJws,
    };
    let authorize = |head: &RequestHead| {
        block_on(own(authorize_service(
            gw.verifier(),
            gw.minter(),
            gw.caches(),
            caps,
            head,
            SERVICE,
            NOW,
            &mut Seen::default(),
        )))
    };
    ok(op, authorize(&heads[0]));
    let warm = f.db.reads();
    for head in &heads[1..=n as usize] {
        black_box(ok(op, authorize(black_box(head))));
    }
    if f.db.reads() != warm {
        eprintln!("{op}: storage reads with warm caches (expected 0)");
        std::process::exit(1);
    }
    // Each proof was recorded: the first one again is a replay.
    if authorize(&heads[0]).is_ok() {
        eprintln!("{op}: a replayed proof was accepted");
        std::process::exit(1);
    }
}

/// `service_request` (what a runtime runs: `Gateway::start`, relay, audit line) on the
/// all-features service of `authorize_service_all_features`.
#[inline(never)]
fn service_request_all_features(op: &str, n: u64, f: &Fixture) {
    let db = f.db_with(f.all_features_service());
    let secrets = FakeSecrets::with(&[ORIGIN_SECRET]);
    let gw = f.gateway();
    let caps = Capabilities {
        db: &db,
        ed25519: &PortableEd25519,
        random: &RANDOM,
        memory: InstanceMemory::Kept,
        secrets: &secrets,
        jws: &isogate_core::jws::PortableJws,
    };
    let origin = [
        ("content-type".to_owned(), "application/json".to_owned()),
        ("content-length".to_owned(), "42".to_owned()),
        (
            "date".to_owned(),
            "Tue, 14 Nov 2023 22:13:20 GMT".to_owned(),
        ),
    ];
    let request = |head: &RequestHead| {
        let Step::Forward(forward) = block_on(own(gw.start(caps, head.clone(), NOW))) else {
            eprintln!("{op}: the service request was not forwarded");
            std::process::exit(1)
        };
        let responded = UpstreamOutcome::Responded {
            status: 200,
            headers: &origin,
        };
        forward.record.relay(responded, NOW)
    };
    request(&f.service_head);
    let warm = db.reads();
    for _ in 0..n {
        let (relayed, line) = request(black_box(&f.service_head));
        if line.is_none() {
            eprintln!("{op}: no audit line");
            std::process::exit(1);
        }
        black_box((relayed, line));
    }
    if db.reads() != warm {
        eprintln!("{op}: storage reads with warm caches (expected 0)");
        std::process::exit(1);
    }
}

/// `future` as a future of its own type: the operations added after the guard's first ones
/// drive the gateway through their own `block_on` instances, so that theirs do not change
/// what LLVM inlines where the older operations call `block_on` (a second caller of one
/// instance can make it stop being inlined, and the older counts move).
async fn own<F: std::future::Future>(future: F) -> F::Output {
    future.await
}

/// Revocations of another client in the `_after_revocation_flood` operations: their cost must
/// equal the plain operation's (bench/lib/instructions.mjs checks it within 1%).
const FLOOD: usize = 10_000;

/// What the flood's fake database holds, held by the plain operations too. In production the
/// revocations live in the database, not in the gateway's memory; the fake database keeps them
/// in this process, which changes the allocator's state (a few thousand instructions of
/// `malloc` per refill, either way), so both sides of each pair run on the same heap and the
/// comparison measures only the gateway.
fn flood_ballast() -> CannedDb {
    CannedDb::new().with_revocation_flood(FLOOD)
}

/// The user's group that the last of [`ten_rules`] admits.
const FINANCE: i64 = 7;

/// A 10-rule policy whose first nine rules miss the bench request (`GET /anything/items` by
/// user 1 in groups 3 and 7, scope `service:*`) each on a different condition, deny rules on
/// paths reading the path both ways, and whose last rule admits it.
fn ten_rules() -> Vec<Rule> {
    let texts = [
        "deny paths=/admin/*",
        "deny methods=DELETE,PATCH",
        "deny credential=old-deploy",
        "allow group=ops methods=POST,PUT paths=/deploy",
        "allow user=ci methods=GET paths=/reports/*",
        "deny paths=/anything/secret,/anything/*/private",
        "allow scope=service:payroll",
        "deny group=contractors",
        "allow user=alice,bob paths=/anything",
        "allow group=finance methods=GET,HEAD paths=/anything/*",
    ];
    texts
        .iter()
        .map(|t| {
            let mut rule = parse_rule(t).unwrap();
            for c in &mut rule.when {
                match c {
                    Condition::Users(users) => users.iter_mut().for_each(|u| u.id = 40),
                    Condition::Groups(groups) => groups
                        .iter_mut()
                        .for_each(|g| g.id = if g.name == "finance" { FINANCE } else { 50 }),
                    Condition::Credentials(creds) => {
                        creds.iter_mut().for_each(|c| c.id = "zzzz-zzzz".into())
                    }
                    _ => {}
                }
            }
            rule
        })
        .collect()
}

/// `authorize_service` with warm caches, `n` times: no storage read (the binary fails if one
/// is made).
fn authorize_warm(op: &str, n: u64, f: &Fixture, db: &CannedDb) {
    authorize_warm_with(op, n, f, db, &NoOriginSecrets)
}

/// [`authorize_warm`] with the runtime's secrets (upstream credentials).
fn authorize_warm_with(op: &str, n: u64, f: &Fixture, db: &CannedDb, secrets: &dyn OriginSecrets) {
    let gw = f.gateway();
    let caps = Capabilities {
        db,
        ed25519: &PortableEd25519,
        random: &RANDOM,
        memory: InstanceMemory::Kept,
        secrets,
        jws: &isogate_core::jws::PortableJws,
    };
    let authorize = |head: &RequestHead, now: Now| {
        block_on(authorize_service(
            gw.verifier(),
            gw.minter(),
            gw.caches(),
            caps,
            head,
            SERVICE,
            now,
            &mut Seen::default(),
        ))
    };
    // Warm the isolate's caches: verified token, credential, revocation answer, service, the
    // signed assertion.
    ok(op, authorize(&f.service_head, NOW));
    let warm = db.reads();
    for _ in 0..n {
        black_box(ok(
            op,
            authorize(black_box(&f.service_head), black_box(NOW)),
        ));
    }
    let hot_reads = db.reads() - warm;
    if hot_reads != 0 {
        eprintln!("{op}: {hot_reads} storage reads in {n} requests with warm caches (expected 0)");
        std::process::exit(1);
    }
}

/// `authorize_service` `n` times, each one cache lifetime after the last: every record cache
/// refills (exactly one read per request, checked: `Store::service_request`); the verified token and its assertion
/// (which lives minutes, not one cache lifetime) stay remembered.
fn authorize_refill(op: &str, n: u64, f: &Fixture, db: &CannedDb) {
    // A cache lifetime of 1 ms, so that `n` refills span well under the assertion's lifetime
    // (minutes): each iteration refills the records and nothing else.
    let mut config = GatewayConfig::for_domain(DOMAIN);
    config.cache_ttl_ms = 1;
    let gw = Gateway::new(config, SigningKey::from_seed(SEED), vec![]);
    let ttl = gw.config().cache_ttl_ms;
    let caps = Capabilities {
        db,
        ed25519: &PortableEd25519,
        random: &RANDOM,
        memory: InstanceMemory::Kept,
        secrets: &NoOriginSecrets,
        jws: &isogate_core::jws::PortableJws,
    };
    let authorize = |now: Now| {
        block_on(authorize_service(
            gw.verifier(),
            gw.minter(),
            gw.caches(),
            caps,
            black_box(&f.service_head),
            SERVICE,
            now,
            &mut Seen::default(),
        ))
    };
    ok(op, authorize(NOW));
    let before = db.reads();
    for i in 1..=n {
        let now = Now::from_unix_ms(NOW.unix_ms() + i * ttl);
        black_box(ok(op, authorize(black_box(now))));
    }
    let reads = db.reads() - before;
    // Credential, revocation and service in one read (`Store::service_request`).
    if reads != n {
        eprintln!("{op}: {reads} storage reads in {n} refills (expected 1 each)");
        std::process::exit(1);
    }
}

/// The fixed inputs.
struct Fixture {
    minter: Minter,
    verifier: Verifier,
    scopes: ScopeSet,
    token: String,
    token_head: RequestHead,
    token_body: String,
    service_head: RequestHead,
    service: Service,
    status: CredentialStatus,
    db: CannedDb,
}

impl Fixture {
    fn new() -> Fixture {
        let minter = Minter::new(SigningKey::from_seed(SEED), ISSUER, ISSUER, DOMAIN, 3600);
        let verifier = Verifier::new(
            KeySet::new(vec![minter.verifying_key().clone()]),
            ISSUER,
            ISSUER,
        );
        let scopes = ScopeSet::parse("service:*").unwrap();
        let status = CredentialStatus {
            credential: Credential {
                client_id: CLIENT_ID.into(),
                name: "bench-cred".into(),
                user_id: 1,
                user: "root".into(),
                kind: CredentialKind::OAuth2,
                secret_hash: Some(Secret::new(CLIENT_SECRET).hash()),
                scopes: ScopeSet::default(),
                expires_at: None,
                enabled: true,
                created_at: 0,
                can_introspect: false,
                require_dpop: false,
                lifecycle: Default::default(),
            },
            user_enabled: true,
            // Two groups: what a rule by group looks through.
            groups: vec![3, FINANCE],
        };
        let grant = Grant {
            credential: &status.credential,
            scopes: &scopes,
            lifetime_secs: None,
            jkt: None,
        };
        let token = block_on(minter.issue(&PortableEd25519, &RANDOM, grant, NOW)).access_token;
        let service = Service {
            name: SERVICE.into(),
            upstream: "http://127.0.0.1:9000".into(),
            allowed_user_ids: vec![],
            allowed_users: vec![],
            created_at: 0,
            rate_limit: None,
            upstream_auth: None,
            rules: vec![],
        };
        let token_headers = [
            ("host", DOMAIN),
            ("user-agent", "bench/1.0"),
            ("accept", "application/json"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("content-length", "108"),
        ];
        let service_host = format!("{SERVICE}.{DOMAIN}");
        let bearer = format!("Bearer {token}");
        let service_headers = [
            ("host", service_host.as_str()),
            ("user-agent", "bench/1.0"),
            ("accept", "*/*"),
            ("accept-encoding", "gzip"),
            ("authorization", bearer.as_str()),
        ];
        Fixture {
            token_head: head("POST", DOMAIN, "/oauth2/token", None, &token_headers),
            token_body: format!(
                "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
            ),
            service_head: head(
                "GET",
                &service_host,
                "/anything/items",
                Some("page=2&sort=name"),
                &service_headers,
            ),
            db: CannedDb::new()
                .with_credential(status.clone())
                .with_service(service.clone()),
            minter,
            verifier,
            scopes,
            token,
            service,
            status,
        }
    }

    /// The identity the service flow attaches for the fixed token.
    fn principal(&self) -> Principal {
        Principal {
            user: "root".into(),
            client_id: CLIENT_ID.into(),
            credential: "bench-cred".into(),
            scope: "service:*".into(),
            token_id: B64URL.encode([9u8; 16]),
        }
    }

    /// The fixture's records, plus [`FLOOD`] revoked tokens of another client.
    /// The service with a rate limit no iteration reaches: every request is counted (in the
    /// isolate's memory, as on Workers) and admitted.
    fn limited_db(&self) -> CannedDb {
        CannedDb::new()
            .with_credential(self.status.clone())
            .with_service(Service {
                rate_limit: Some(RateLimit::new(MAX_REQUESTS, Window::Second).unwrap()),
                ..self.service.clone()
            })
    }

    /// The fixture's credential with `service` in place of its own.
    fn db_with(&self, service: Service) -> CannedDb {
        CannedDb::new()
            .with_credential(self.status.clone())
            .with_service(service)
    }

    /// The fixture's credential rotated twice (the token issued after both, the last grace
    /// running) and given a scope ceiling: every lifecycle check runs, and passes.
    fn lifecycle_db(&self) -> CannedDb {
        let now = NOW.unix_secs();
        let mut status = self.status.clone();
        status.credential.scopes = ScopeSet::parse("service:my-api service:other").unwrap();
        status.credential.lifecycle = Lifecycle {
            previous_secret_hash: Some(Secret::new("previous").hash()),
            rotated_at: Some(now - 10),
            grace_until: Some(now + 3600),
            previous_rotated_at: Some(now - 100),
            ..Lifecycle::default()
        };
        CannedDb::new()
            .with_credential(status)
            .with_service(self.service.clone())
    }

    /// The service with every per-request feature on: a rate limit no iteration reaches,
    /// [`ten_rules`], and `bearer` upstream auth ([`ORIGIN_SECRET`]).
    fn all_features_service(&self) -> Service {
        Service {
            rate_limit: Some(RateLimit::new(MAX_REQUESTS, Window::Second).unwrap()),
            rules: ten_rules(),
            upstream_auth: Some(UpstreamAuth::parse("bearer:ORIGIN_TOKEN").unwrap()),
            ..self.service.clone()
        }
    }

    /// The service with [`ten_rules`].
    fn policy_db(&self) -> CannedDb {
        CannedDb::new()
            .with_credential(self.status.clone())
            .with_service(Service {
                rules: ten_rules(),
                ..self.service.clone()
            })
    }

    /// What the policy sees of the bench request.
    fn policy_request<'a>(&'a self, scopes: &'a ScopeSet) -> policy::Request<'a> {
        policy::Request {
            user: self.status.credential.user_id,
            groups: &self.status.groups,
            client_id: CLIENT_ID,
            scopes,
            method: self.service_head.method.as_str(),
            path: &self.service_head.path,
        }
    }

    fn flooded_db(&self) -> CannedDb {
        CannedDb::new()
            .with_credential(self.status.clone())
            .with_service(self.service.clone())
            .with_revocation_flood(FLOOD)
    }

    /// What the service flow has seen of the fixed token: the token and its credential.
    fn seen(&self) -> Seen {
        let verified = block_on(self.verifier.validate(&PortableEd25519, &self.token, NOW));
        Seen {
            token: Some(Rc::new(ok("seen", verified))),
            credential: Some(Rc::new(self.status.clone())),
        }
    }

    fn gateway(&self) -> Gateway {
        Gateway::new(
            GatewayConfig::for_domain(DOMAIN),
            SigningKey::from_seed(SEED),
            vec![],
        )
    }
}

/// An Ed25519 that must never be asked: proves the warm lookup (and a throttled token request)
/// signs nothing.
struct PanickingEd25519;

impl Ed25519 for PanickingEd25519 {
    async fn sign(&self, _: &SigningKey, _: &[u8]) -> [u8; 64] {
        eprintln!("an operation that must not sign asked for a signature");
        std::process::exit(1)
    }

    async fn verify(&self, _: &VerifyingKey, _: &[u8], _: &[u8; 64]) -> bool {
        eprintln!("an operation that must not verify asked for a verification");
        std::process::exit(1)
    }
}
