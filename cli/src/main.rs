//! `isogate`: the admin CLI. It drives a deployment's admin API (`/admin/v1/...` on the root
//! domain), on Workers or Spin alike, the way `octeliumctl` drives Octelium.
//!
//! ```text
//! isogate create service my-api --upstream http://127.0.0.1:9000
//! isogate create cred --user root --type oauth2 my-oauth-cred
//! isogate get creds -o json
//! isogate delete cred my-oauth-cred
//! ```
//! The server and admin credential come from `--server`/`--token` or `ISOGATE_SERVER`/
//! `ISOGATE_ADMIN_TOKEN`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use isogate_core::admin::api::{
    CreatedCredential, CredentialList, CredentialView, Deleted, DeletedCredential, DeletedService,
    DeletedUser, ErrorBody, NewCredential, NewService, NewUser, OneCredential, OneService, OneUser,
    ServiceList, ServiceView, UserList, UserView,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "isogate",
    version,
    about = "Manage users, services and credentials of an Isogate deployment"
)]
struct Cli {
    /// The deployment's root URL.
    #[arg(
        long,
        global = true,
        env = "ISOGATE_SERVER",
        default_value = "http://localhost:8787"
    )]
    server: String,
    /// The admin credential (ISOGATE_ADMIN_TOKEN of the deployment).
    #[arg(
        long,
        global = true,
        env = "ISOGATE_ADMIN_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Output {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Create a user, service or credential.
    Create {
        #[command(subcommand)]
        what: CreateWhat,
    },
    /// List, or show one, user, service or credential.
    Get {
        #[command(subcommand)]
        what: Kind,
    },
    /// Delete a user, service or credential (deleting revokes).
    Delete {
        #[command(subcommand)]
        what: Kind,
    },
    /// Generate a new Ed25519 signing key (for ISOGATE_SIGNING_KEY and key rotation). Offline.
    Keygen,
}

#[derive(Subcommand)]
enum CreateWhat {
    #[command(visible_aliases = ["users"])]
    User { name: String },
    #[command(visible_aliases = ["services", "svc"])]
    Service(ServiceArgs),
    #[command(visible_aliases = ["cred", "creds", "credentials"])]
    Credential(CredentialArgs),
}

#[derive(Args)]
struct ServiceArgs {
    name: String,
    /// The origin: http[s]://host[:port][/base].
    #[arg(long)]
    upstream: String,
    /// Users the service admits (repeatable). None: every user.
    #[arg(long = "allow-user")]
    allow_users: Vec<String>,
}

#[derive(Args)]
struct CredentialArgs {
    name: String,
    #[arg(long)]
    user: String,
    /// oauth2 (client id + secret) or access-token (a bearer token used directly).
    #[arg(long = "type", default_value = "oauth2")]
    kind: String,
    /// Lifetime, e.g. 30d, 12h, 90m.
    #[arg(long = "expire-in")]
    expire_in: Option<String>,
    /// Scope ceiling (repeatable or space-separated), e.g. service:my-api, service:*.
    #[arg(long)]
    scope: Vec<String>,
}

#[derive(Subcommand)]
enum Kind {
    #[command(visible_aliases = ["users"])]
    User { name: Option<String> },
    #[command(visible_aliases = ["services", "svc"])]
    Service { name: Option<String> },
    #[command(visible_aliases = ["cred", "creds", "credentials"])]
    Credential { name: Option<String> },
}

impl Kind {
    fn parts(&self) -> (&'static str, &'static str, Option<&str>) {
        match self {
            Kind::User { name } => ("users", "User", name.as_deref()),
            Kind::Service { name } => ("services", "Service", name.as_deref()),
            Kind::Credential { name } => ("credentials", "Credential", name.as_deref()),
        }
    }
}

struct Api {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Api {
    /// One admin API call: the request body and the response are the core's wire types
    /// (`isogate_core::admin::api`), so the CLI cannot drift from the server's schema.
    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, String> {
        let url = format!("{}/admin/v1/{path}", self.base.trim_end_matches('/'));
        let req = self
            .agent
            .request(method, &url)
            .set("authorization", &format!("Bearer {}", self.token));
        let result = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match result {
            Ok(resp) => resp
                .into_json()
                .map_err(|e| format!("invalid response from {url}: {e}")),
            Err(ureq::Error::Status(status, resp)) => {
                let body: Option<ErrorBody> = resp.into_json().ok();
                let detail = body
                    .map(|b| b.error_description.unwrap_or(b.error))
                    .unwrap_or_else(|| "request failed".into());
                Err(format!("{detail} (HTTP {status})"))
            }
            Err(e) => Err(format!("cannot reach {}: {e}", self.base)),
        }
    }
}

/// A request body as JSON (serde_json maps are sorted: the same bytes whatever the field order).
fn body<T: Serialize>(request: &T) -> Value {
    serde_json::to_value(request).unwrap_or_default()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Keygen) {
        return keygen(cli.output == Output::Json);
    }
    let Some(token) = cli.token.clone().filter(|t| !t.is_empty()) else {
        eprintln!("Error: no admin credential: pass --token or set ISOGATE_ADMIN_TOKEN");
        return ExitCode::from(2);
    };
    let api = Api {
        base: cli.server.clone(),
        token,
        agent: ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(30))
            .build(),
    };
    match run(&cli, &api) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli, api: &Api) -> Result<(), String> {
    let json_out = cli.output == Output::Json;
    match &cli.command {
        Command::Create { what } => match what {
            CreateWhat::User { name } => {
                let created: OneUser =
                    api.call("POST", "users", Some(body(&NewUser { name: name.clone() })))?;
                confirm_created(json_out, &created, "User", name);
            }
            CreateWhat::Service(s) => {
                let new = NewService {
                    allowed_users: s.allow_users.clone(),
                    name: s.name.clone(),
                    upstream: s.upstream.clone(),
                };
                let created: OneService = api.call("POST", "services", Some(body(&new)))?;
                confirm_created(json_out, &created, "Service", &s.name);
            }
            CreateWhat::Credential(c) => {
                let scopes = c
                    .scope
                    .iter()
                    .flat_map(|s| s.split([' ', ',']))
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                let new = NewCredential {
                    expire_in: c.expire_in.clone(),
                    name: c.name.clone(),
                    scopes,
                    kind: c.kind.clone(),
                    user: c.user.clone(),
                };
                let created: CreatedCredential =
                    api.call("POST", "credentials", Some(body(&new)))?;
                confirm_created(json_out, &created, "Credential", &c.name);
                if !json_out {
                    if let Some(secret) = &created.client_secret {
                        println!("Client ID: {}", created.client_id);
                        println!("Client Secret: {secret}");
                    }
                    if let Some(token) = &created.access_token {
                        println!("Access Token: {token}");
                    }
                }
            }
        },
        Command::Get { what } => {
            let (path, _, name) = what.parts();
            let one = |n: &str| format!("{path}/{}", encode(n));
            let table = match (what, name) {
                (Kind::User { .. }, Some(n)) => {
                    show(json_out, &api.call::<OneUser>("GET", &one(n), None)?, |o| {
                        vec![user_row(&o.user)]
                    })?
                }
                (Kind::User { .. }, None) => {
                    show(json_out, &api.call::<UserList>("GET", path, None)?, |l| {
                        l.users.iter().map(user_row).collect()
                    })?
                }
                (Kind::Service { .. }, Some(n)) => show(
                    json_out,
                    &api.call::<OneService>("GET", &one(n), None)?,
                    |o| vec![service_row(&o.service)],
                )?,
                (Kind::Service { .. }, None) => show(
                    json_out,
                    &api.call::<ServiceList>("GET", path, None)?,
                    |l| l.services.iter().map(service_row).collect(),
                )?,
                (Kind::Credential { .. }, Some(n)) => show(
                    json_out,
                    &api.call::<OneCredential>("GET", &one(n), None)?,
                    |o| vec![credential_row(&o.credential)],
                )?,
                (Kind::Credential { .. }, None) => show(
                    json_out,
                    &api.call::<CredentialList>("GET", path, None)?,
                    |l| l.credentials.iter().map(credential_row).collect(),
                )?,
            };
            if let Some(rows) = table {
                print_table(path, &rows);
            }
        }
        Command::Keygen => unreachable!("handled before connecting"),
        Command::Delete { what } => {
            let (path, label, name) = what.parts();
            let name =
                name.ok_or_else(|| format!("delete needs the {} name", label.to_lowercase()))?;
            let target = format!("{path}/{}", encode(name));
            let printed = match what {
                Kind::User { .. } => print_json_if(
                    json_out,
                    &api.call::<Deleted<DeletedUser>>("DELETE", &target, None)?,
                ),
                Kind::Service { .. } => print_json_if(
                    json_out,
                    &api.call::<Deleted<DeletedService>>("DELETE", &target, None)?,
                ),
                Kind::Credential { .. } => print_json_if(
                    json_out,
                    &api.call::<Deleted<DeletedCredential>>("DELETE", &target, None)?,
                ),
            };
            if !printed {
                println!("{label} {name} successfully deleted");
            }
        }
    }
    Ok(())
}

/// Prints a creation response as JSON, or the text confirmation.
fn confirm_created<T: Serialize>(json_out: bool, created: &T, label: &str, name: &str) {
    if json_out {
        print_json(created);
    } else {
        println!("{label} {name} successfully created");
    }
}

/// Prints a response as JSON, or returns its table rows for text output.
fn show<T: Serialize>(
    json_out: bool,
    found: &T,
    rows: impl FnOnce(&T) -> Vec<Vec<String>>,
) -> Result<Option<Vec<Vec<String>>>, String> {
    if json_out {
        print_json(found);
        return Ok(None);
    }
    Ok(Some(rows(found)))
}

fn print_json_if<T: Serialize>(json_out: bool, value: &T) -> bool {
    if json_out {
        print_json(value);
    }
    json_out
}

/// A list cell: `*` for an empty list (every user, every service), else comma-joined.
fn list_cell(items: &[String]) -> String {
    if items.is_empty() {
        "*".into()
    } else {
        items.join(",")
    }
}

fn user_row(u: &UserView) -> Vec<String> {
    vec![u.name.clone(), u.enabled.to_string()]
}

fn service_row(s: &ServiceView) -> Vec<String> {
    vec![
        s.name.clone(),
        s.upstream.clone(),
        list_cell(&s.allowed_users),
    ]
}

fn credential_row(c: &CredentialView) -> Vec<String> {
    let expires = c.expires_at.map_or_else(|| "-".to_owned(), format_unix);
    vec![
        c.name.clone(),
        c.user.clone(),
        c.kind.clone(),
        c.client_id.clone(),
        list_cell(&c.scopes),
        expires,
    ]
}

/// Prints a fresh signing key: the secret seed, and the public half as published in the JWKS.
fn keygen(json_out: bool) -> ExitCode {
    use base64::Engine as _;
    let mut seed = [0u8; 32];
    if getrandom::fill(&mut seed).is_err() {
        eprintln!("Error: the operating system's random source is unavailable");
        return ExitCode::FAILURE;
    }
    let key = isogate_core::keys::SigningKey::from_seed(seed);
    let jwk = key.verifying_key().to_jwk();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(seed);
    if json_out {
        print_json(&json!({ "signing_key": secret, "public_key": jwk["x"], "kid": jwk["kid"] }));
    } else {
        println!("Signing key (secret, for ISOGATE_SIGNING_KEY): {secret}");
        println!(
            "Public key (for ISOGATE_EXTRA_PUBLIC_KEYS): {}",
            jwk["x"].as_str().unwrap_or("")
        );
        println!("Key ID: {}", jwk["kid"].as_str().unwrap_or(""));
    }
    ExitCode::SUCCESS
}

fn print_json<T: Serialize + ?Sized>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn print_table(kind: &str, rows: &[Vec<String>]) {
    let headers: &[&str] = match kind {
        "users" => &["NAME", "ENABLED"],
        "services" => &["NAME", "UPSTREAM", "ALLOWED USERS"],
        _ => &["NAME", "USER", "TYPE", "CLIENT ID", "SCOPES", "EXPIRES AT"],
    };
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(c, h)| {
            rows.iter()
                .map(|r| r[c].len())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("   ")
            .trim_end()
            .to_owned()
    };
    println!("{}", line(headers.to_vec()));
    for r in rows {
        println!("{}", line(r.iter().map(String::as_str).collect()));
    }
}

/// Unix seconds as an RFC 3339 UTC timestamp (civil-from-days, no date crate needed).
fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Names are restricted to URL-safe characters by the server; encode anything else anyway.
fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_format_as_rfc3339() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn names_are_path_encoded() {
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
        assert_eq!(encode("my-cred.1_x"), "my-cred.1_x");
    }
}
