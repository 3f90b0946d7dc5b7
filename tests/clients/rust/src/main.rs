//! A workload using the `oauth2` crate (v5, reqwest blocking client), unchanged, against
//! Isogate: client credentials with `AuthType::BasicAuth` (client_secret_basic, the crate's
//! default) and `AuthType::RequestBody` (client_secret_post), a service call with
//! `Authorization: Bearer`, and how the crate reports a wrong secret.
//!
//! Settings from the environment: ISOGATE_ISSUER (http(s)://localhost:PORT),
//! ISOGATE_SERVICE_URL (http(s)://my-api.localhost:PORT), CLIENT_ID, CLIENT_SECRET, and
//! optionally ISOGATE_CA_CERT (PEM file of a CA to trust, for the local HTTPS gateway).
//! Prints one `ok: ...` line per passed check; exits non-zero on the first failed one.
use std::net::SocketAddr;
use std::process::exit;

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    reqwest, AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl,
};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("missing environment variable {name}");
        exit(2)
    })
}

fn check(cond: bool, what: &str) {
    if !cond {
        eprintln!("FAIL: {what}");
        exit(1);
    }
    println!("ok: {what}");
}

/// The HTTP client for both the token endpoint and the service. Redirects off, as the
/// crate's documentation asks. Test-only extras: trust the local CA, and resolve the
/// service's `*.localhost` name to loopback (RFC 6761; curl and browsers do it themselves,
/// the system resolver does not).
fn http_client(service_url: &str) -> reqwest::blocking::Client {
    let mut builder =
        reqwest::blocking::ClientBuilder::new().redirect(reqwest::redirect::Policy::none());
    if let Ok(path) = std::env::var("ISOGATE_CA_CERT") {
        let pem = std::fs::read(&path).expect("read ISOGATE_CA_CERT");
        builder = builder
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA certificate"));
    }
    let url = reqwest::Url::parse(service_url).expect("ISOGATE_SERVICE_URL");
    let host = url.host_str().expect("service host").to_string();
    if host.ends_with(".localhost") {
        let port = url.port_or_known_default().unwrap_or(80);
        builder = builder.resolve(&host, SocketAddr::from(([127, 0, 0, 1], port)));
    }
    builder.build().expect("reqwest client")
}

fn main() {
    let issuer = env("ISOGATE_ISSUER");
    let service_url = env("ISOGATE_SERVICE_URL");
    let client_id = env("CLIENT_ID");
    let client_secret = env("CLIENT_SECRET");
    let http = http_client(&service_url);

    for (auth_type, name) in [
        (AuthType::BasicAuth, "BasicAuth"),
        (AuthType::RequestBody, "RequestBody"),
    ] {
        // --- the canonical example ---
        let client = BasicClient::new(ClientId::new(client_id.clone()))
            .set_client_secret(ClientSecret::new(client_secret.clone()))
            .set_token_uri(TokenUrl::new(format!("{issuer}/oauth2/token")).unwrap())
            .set_auth_type(auth_type.clone());

        let token = client
            .exchange_client_credentials()
            .add_scope(Scope::new("service:my-api".to_string()))
            .request(&http)
            .unwrap_or_else(|e| {
                eprintln!("FAIL: {name} token request: {e:?}");
                exit(1)
            });

        let response = http
            .get(format!("{service_url}/anything?lib=rust-oauth2"))
            .bearer_auth(token.access_token().secret())
            .send()
            .unwrap_or_else(|e| {
                eprintln!("FAIL: {name} service call: {e:?}");
                exit(1)
            });
        // --- end of the canonical example ---

        check(
            token.token_type() == &oauth2::basic::BasicTokenType::Bearer
                && token.expires_in().map(|d| d.as_secs()) == Some(3600),
            &format!("oauth2 {name} exchange_client_credentials"),
        );
        let status = response.status();
        let echo: serde_json::Value =
            serde_json::from_str(&response.text().expect("body")).expect("origin JSON");
        check(
            status == 200,
            &format!("oauth2 {name} service call ({status})"),
        );
        check(
            echo["headers"]["x-isogate-user"] == "root"
                && echo["headers"]["x-isogate-service"] == "my-api",
            &format!("oauth2 {name}: origin sees the verified user"),
        );
        check(
            echo["headers"].get("authorization").is_none(),
            &format!("oauth2 {name}: origin never sees the token"),
        );

        // A wrong secret: the crate parses RFC 6749 §5.2 into RequestTokenError::ServerResponse.
        let bad = client
            .clone()
            .set_client_secret(ClientSecret::new("wrong".to_string()));
        match bad.exchange_client_credentials().request(&http) {
            Err(RequestTokenError::ServerResponse(e))
                if *e.error() == BasicErrorResponseType::InvalidClient =>
            {
                println!("   ({name}) wrong secret -> {e}");
                check(true, &format!("oauth2 {name} reports invalid_client"));
            }
            other => check(
                false,
                &format!("oauth2 {name}: wrong secret must be invalid_client, got {other:?}"),
            ),
        }
    }
    println!("all rust client checks passed");
}
