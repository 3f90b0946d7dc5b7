//! `ops <operation> <iterations>`: runs one of the core's operations `iterations` times on
//! fixed inputs, for instruction counts under `valgrind --tool=callgrind` (see
//! `bench/instructions.sh`, which runs N and 2N iterations and takes the difference so that
//! process start-up and the set-up below cancel out).
//!
//! Everything is deterministic: a fixed Ed25519 seed, a fixed clock, fixed token id bytes, a
//! fixed request. Each iteration feeds its inputs through `black_box` and consumes the result
//! with it, so the optimizer can neither hoist the work out of the loop nor drop it.
//!
//! `authorize_service` and `token_endpoint` run the gateway's whole flow against [`MemDb`], an
//! in-memory [`SqlDb`] that counts reads: with warm caches the service hot path must make
//! none, and the binary fails if it does.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use isogate_core::error::StoreError;
use isogate_core::forward::{plan_forward, Principal};
use isogate_core::gateway::{decide_access, verify_client_secret};
use isogate_core::http::RequestHead;
use isogate_core::model::{Credential, CredentialKind, CredentialStatus, Service};
use isogate_core::scope::ScopeSet;
use isogate_core::secret::{Secret, TOKEN_ID_BYTES};
use isogate_core::store::{credential_row, service_row, SqlDb, SqlValue};
use isogate_core::token::{issue_access_token, validate_access_token, KeySet, PortableEd25519, SigningKey, TokenGrant};
use isogate_core::token_request::parse_token_request;
use isogate_core::{Gateway, GatewayConfig, RandomSource};
use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

const SEED: [u8; 32] = [7; 32];
const JTI: [u8; TOKEN_ID_BYTES] = [9; TOKEN_ID_BYTES];
/// 2023-11-14T22:13:20Z: the fixed clock of every operation.
const NOW: i64 = 1_700_000_000;
const DOMAIN: &str = "bench.test";
const ISSUER: &str = "https://bench.test";
const CLIENT_ID: &str = "ky9f-mmt2";
const CLIENT_SECRET: &str = "avC2b9vsFoZRheTYr_JpOkmnn4crP6B35aDB2RU9xC4";
const SERVICE: &str = "my-api";

const OPERATIONS: &[(&str, &str)] = &[
    ("parse_token_request", "parse a client_secret_post token request (head + form body)"),
    ("verify_client_secret", "hash the presented secret, compare in constant time, check the credential"),
    ("issue_access_token", "build and sign an RFC 9068 access token (Ed25519)"),
    ("validate_access_token", "decode, verify the signature, check the claims of an access token"),
    ("signature_check_only", "ed25519-compact verify of the same token's signing input, nothing else"),
    ("decide_access", "scope and service policy decision"),
    ("plan_forward", "build the forward plan (headers filtered, identity attached, URL)"),
    ("authorize_service", "the whole service flow with warm caches: bearer, validate, cache, decide, plan"),
    ("token_endpoint", "the whole token endpoint: parse, load (in-memory db), verify, grant, issue, respond"),
];

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
    match op.as_str() {
        "parse_token_request" => {
            for _ in 0..n {
                let r = parse_token_request(black_box(&f.token_head), black_box(f.token_body.as_bytes()));
                black_box(r.expect("the fixed request parses"));
            }
        }
        "verify_client_secret" => {
            let client = parse_token_request(&f.token_head, f.token_body.as_bytes()).unwrap().client;
            for _ in 0..n {
                // The adapter hands over an owned record each time; the clone is part of the step.
                let status = Some(black_box(&f.status).clone());
                let r = verify_client_secret(black_box(&client), status, black_box(NOW));
                black_box(r.expect("the fixed secret verifies"));
            }
        }
        "issue_access_token" => {
            for _ in 0..n {
                black_box(issue_access_token(black_box(&f.key), black_box(&f.grant()), black_box(&JTI)));
            }
        }
        "validate_access_token" => {
            for _ in 0..n {
                let r = validate_access_token(black_box(&f.token), black_box(&f.keys), ISSUER, ISSUER, black_box(NOW + 60));
                black_box(r.expect("the fixed token validates"));
            }
        }
        "signature_check_only" => {
            // What validation cannot avoid: one Ed25519 verification of `header.claims`.
            let public = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(SEED)).pk;
            let (signed, s64) = f.token.rsplit_once('.').unwrap();
            let signature = ed25519_compact::Signature::from_slice(&B64URL.decode(s64).unwrap()).unwrap();
            for _ in 0..n {
                black_box(black_box(&public).verify(black_box(signed.as_bytes()), black_box(&signature))).expect("the signature verifies");
            }
        }
        "decide_access" => {
            let scopes = ScopeSet::parse("service:*").unwrap();
            for _ in 0..n {
                black_box(decide_access(black_box(&scopes), black_box("root"), black_box(&f.service))).expect("access is allowed");
            }
        }
        "plan_forward" => {
            let principal = Principal {
                user: "root".into(),
                client_id: CLIENT_ID.into(),
                credential: "bench-cred".into(),
                scope: "service:*".into(),
                token_id: B64URL.encode(JTI),
            };
            for _ in 0..n {
                black_box(plan_forward(black_box(&f.service_head), black_box(&f.service), black_box(&principal)));
            }
        }
        "authorize_service" => {
            let gw = f.gateway();
            let now_ms = NOW as u64 * 1000;
            // Warm the isolate's caches: credential, revoked-token set, service.
            block_on(gw.authorize_service(&f.db, &PortableEd25519, &f.service_head, SERVICE, now_ms)).expect("authorized");
            let warm = f.db.reads.get();
            for _ in 0..n {
                let r = block_on(gw.authorize_service(black_box(&f.db), &PortableEd25519, black_box(&f.service_head), SERVICE, black_box(now_ms)));
                black_box(r.expect("authorized"));
            }
            let hot_reads = f.db.reads.get() - warm;
            if hot_reads != 0 {
                eprintln!("authorize_service: {hot_reads} storage reads in {n} requests with warm caches (expected 0)");
                std::process::exit(1);
            }
        }
        "token_endpoint" => {
            let gw = f.gateway();
            let mut rng = FixedRandom;
            for _ in 0..n {
                let r = block_on(gw.handle_root(black_box(&f.db), &PortableEd25519, black_box(&f.token_head), black_box(f.token_body.as_bytes()), NOW as u64 * 1000, &mut rng));
                assert_eq!(r.status, 200);
                black_box(r);
            }
        }
        other => {
            eprintln!("unknown operation {other:?}; run without arguments for the list");
            std::process::exit(2);
        }
    }
}

/// The fixed inputs.
struct Fixture {
    key: SigningKey,
    keys: KeySet,
    scopes: ScopeSet,
    token: String,
    token_head: RequestHead,
    token_body: String,
    service_head: RequestHead,
    service: Service,
    status: CredentialStatus,
    db: MemDb,
}

impl Fixture {
    fn new() -> Fixture {
        let key = SigningKey::from_seed(SEED);
        let keys = KeySet::new(vec![key.verifying_key().clone()]);
        let scopes = ScopeSet::parse("service:*").unwrap();
        let mut f = Fixture {
            keys,
            scopes,
            token: String::new(),
            token_head: RequestHead {
                method: "POST".into(),
                scheme: "https".into(),
                host: DOMAIN.into(),
                path: "/oauth2/token".into(),
                query: None,
                headers: headers(&[
                    ("host", DOMAIN),
                    ("user-agent", "bench/1.0"),
                    ("accept", "application/json"),
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("content-length", "108"),
                ]),
                client_ip: Some("203.0.113.7".into()),
            },
            token_body: format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"),
            service_head: RequestHead::default(),
            service: Service { name: SERVICE.into(), upstream: "http://127.0.0.1:9000".into(), allowed_users: vec![], created_at: 0 },
            status: CredentialStatus {
                credential: Credential {
                    client_id: CLIENT_ID.into(),
                    name: "bench-cred".into(),
                    user: "root".into(),
                    kind: CredentialKind::OAuth2,
                    secret_hash: Some(Secret::new(CLIENT_SECRET).hash().0),
                    scopes: String::new(),
                    expires_at: None,
                    enabled: true,
                    created_at: 0,
                },
                user_enabled: true,
            },
            db: MemDb::default(),
            key,
        };
        f.token = issue_access_token(&f.key, &f.grant(), &JTI).access_token;
        let bearer = format!("Bearer {}", f.token);
        f.service_head = RequestHead {
            method: "GET".into(),
            scheme: "https".into(),
            host: format!("{SERVICE}.{DOMAIN}"),
            path: "/anything/items".into(),
            query: Some("page=2&sort=name".into()),
            headers: headers(&[
                ("host", &format!("{SERVICE}.{DOMAIN}")),
                ("user-agent", "bench/1.0"),
                ("accept", "*/*"),
                ("accept-encoding", "gzip"),
                ("authorization", &bearer),
            ]),
            client_ip: Some("203.0.113.7".into()),
        };
        f.db.status = Some(f.status.clone());
        f.db.service = Some(f.service.clone());
        f
    }

    fn grant(&self) -> TokenGrant<'_> {
        TokenGrant {
            issuer: ISSUER,
            audience: ISSUER,
            subject: "root",
            client_id: CLIENT_ID,
            scopes: &self.scopes,
            issued_at: NOW,
            expires_at: NOW + 3600,
        }
    }

    fn gateway(&self) -> Gateway {
        Gateway::new(GatewayConfig::for_domain(DOMAIN), SigningKey::from_seed(SEED), vec![])
    }
}

fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

/// One credential, one service, no revoked tokens; answers the gateway's read queries by table
/// and counts them.
#[derive(Default)]
struct MemDb {
    status: Option<CredentialStatus>,
    service: Option<Service>,
    reads: Cell<u64>,
}

impl SqlDb for MemDb {
    async fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        self.reads.set(self.reads.get() + 1);
        let key = match params.first() {
            Some(SqlValue::Text(k)) => k.as_str(),
            _ => "",
        };
        if sql.contains("FROM credentials") {
            let Some(s) = self.status.as_ref().filter(|s| s.credential.client_id == key) else { return Ok(vec![]) };
            let mut row = credential_row(&s.credential);
            row.push(s.user_enabled.into());
            return Ok(vec![row]);
        }
        if sql.contains("FROM services") {
            let Some(s) = self.service.as_ref().filter(|s| s.name == key) else { return Ok(vec![]) };
            return Ok(vec![service_row(s)]);
        }
        if sql.contains("FROM revoked_tokens") {
            return Ok(vec![]);
        }
        Err(StoreError(format!("MemDb does not answer {sql}")))
    }

    async fn execute(&self, sql: &str, _params: &[SqlValue]) -> Result<u64, StoreError> {
        Err(StoreError(format!("MemDb is read-only: {sql}")))
    }

    async fn execute_batch(&self, _statements: &[(&str, Vec<SqlValue>)]) -> Result<(), StoreError> {
        Err(StoreError("MemDb is read-only".into()))
    }
}

/// Fixed "random" bytes: determinism matters here, secrecy does not.
struct FixedRandom;

impl RandomSource for FixedRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(0x5a);
    }
}

/// Runs a future that never waits (the in-memory db answers at once) to completion.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("an in-memory operation waited"),
    }
}
