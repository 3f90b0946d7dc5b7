//! `isogate`: the admin CLI. It drives a deployment's admin API (`/admin/v1/...` on the root
//! domain), on Workers or Spin alike, the way `octeliumctl` drives Octelium.
//!
//! ```text
//! isogate create group finance
//! isogate create user alice --group finance
//! isogate create service my-api --upstream http://127.0.0.1:9000 [--rate-limit 100/s] \
//!     [--allow 'group=finance'] [--deny 'paths=/admin/*'] ...
//! isogate create cred --user root --type oauth2 my-oauth-cred
//! isogate create cred --user root --type private-key-jwt --public-key client.jwk.json my-key-cred
//! isogate create cred --user root --type private-key-jwt --jwks-uri https://ci.example.com/jwks.json my-key-cred
//! isogate get creds -o json
//! isogate rotate cred my-oauth-cred --grace 1h
//! isogate update cred my-oauth-cred --disable
//! isogate delete cred my-oauth-cred
//! ```
//! The server comes from `--server` or `ISOGATE_SERVER`; the admin credential from
//! `ISOGATE_ADMIN_TOKEN` or `--token-file PATH` (a file holding it). `--token VALUE` works too
//! but warns: a command line is visible to every local user (`ps`) and lands in shell history.

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use isogate_core::admin::api::{
    CreatedCredential, CredentialList, CredentialView, Deleted, DeletedCredential, DeletedGroup,
    DeletedService, DeletedUser, ErrorBody, GroupChange, GroupList, GroupView, NewCredential,
    NewGroup, NewService, NewUser, OneCredential, OneGroup, OneService, OneUser, RotateCredential,
    ServiceList, ServiceView, UpdateCredential, UserList, UserView,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "isogate",
    version,
    about = "Manage users, groups, services and credentials of an Isogate deployment"
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
    /// The admin credential (ISOGATE_ADMIN_TOKEN of the deployment). Prefer the environment
    /// variable or --token-file: a command line shows in `ps` and shell history.
    #[arg(
        long,
        global = true,
        env = "ISOGATE_ADMIN_TOKEN",
        hide_env_values = true,
        // A base64url token may start with `-`: it is the value, never a flag.
        allow_hyphen_values = true
    )]
    token: Option<String>,
    /// A file holding the admin credential (surrounding whitespace ignored); wins over
    /// ISOGATE_ADMIN_TOKEN.
    #[arg(long, global = true, value_name = "PATH")]
    token_file: Option<PathBuf>,
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
    /// Create a user, group, service or credential.
    Create {
        #[command(subcommand)]
        what: CreateWhat,
    },
    /// List, or show one, user, group, service or credential.
    Get {
        #[command(subcommand)]
        what: Kind,
    },
    /// Delete a user, group, service or credential (deleting revokes).
    Delete {
        #[command(subcommand)]
        what: Kind,
    },
    /// Rotate a credential: a new secret (or access token), shown once; the previous one keeps
    /// working for the grace period, then is refused.
    Rotate {
        #[command(subcommand)]
        what: RotateWhat,
    },
    /// Change a credential (disable or enable it, a new expiry or scope ceiling) or a group's
    /// members.
    Update {
        #[command(subcommand)]
        what: UpdateWhat,
    },
    /// Generate a new Ed25519 signing key (for ISOGATE_SIGNING_KEY and key rotation). Offline.
    Keygen,
}

#[derive(Subcommand)]
enum CreateWhat {
    #[command(visible_aliases = ["users"])]
    User {
        name: String,
        /// A group to put the user in (repeatable); it must exist (`isogate create group`).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// A group of users, for service rules (`--allow 'group=NAME'`).
    #[command(visible_aliases = ["groups"])]
    Group { name: String },
    #[command(visible_aliases = ["services", "svc"])]
    Service(ServiceArgs),
    #[command(visible_aliases = ["cred", "creds", "credentials"])]
    Credential(CredentialArgs),
}

#[derive(Subcommand)]
enum UpdateWhat {
    /// Add members to a group or remove them; takes effect at once on the isolate that made
    /// the change, within the cache lifetime everywhere else.
    #[command(visible_aliases = ["groups"])]
    Group {
        name: String,
        /// A user to add (repeatable).
        #[arg(long = "add", value_name = "USER")]
        add: Vec<String>,
        /// A user to remove (repeatable).
        #[arg(long = "remove", value_name = "USER")]
        remove: Vec<String>,
    },
    #[command(visible_aliases = ["cred", "creds", "credentials"])]
    Credential(UpdateArgs),
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
    /// Requests admitted per credential: N/s, N/m or N/h (e.g. 100/s); past it, 429. None: no
    /// limit.
    #[arg(long = "rate-limit", value_name = "N/s|N/m|N/h")]
    rate_limit: Option<String>,
    /// The origin's own credential, which workloads never see, by the NAME of a runtime
    /// secret (Workers: `wrangler secret put NAME`; Spin: a variable declared in spin.toml):
    /// bearer:NAME (Authorization: Bearer), basic:NAME (the secret is user:password),
    /// header:Header-Name:NAME, or oauth2-client-credentials:TOKEN_URL,CLIENT_ID,NAME[,SCOPE]
    /// (the gateway gets and caches the origin's token; NAME holds the client secret).
    #[arg(long = "upstream-auth", value_name = "KIND:...")]
    upstream_auth: Option<String>,
    /// A rule admitting the requests it matches (repeatable; with --deny, in the order given;
    /// the first matching rule decides, and when there are rules and none matches, the request
    /// is refused 403). RULE: space-separated conditions, all of which must hold, each
    /// KEY=VALUE[,VALUE...]: user=, group=, credential=, scope=, methods= (upper case),
    /// paths= (segment prefixes, '*' for one segment: /reports/*); or `any`. E.g.
    /// --allow 'group=finance' --allow 'user=ci methods=GET paths=/reports/*'.
    #[arg(long = "allow", value_name = "RULE")]
    allow: Vec<String>,
    /// A rule refusing (403) the requests it matches (repeatable), e.g. --deny 'paths=/admin/*'.
    #[arg(long = "deny", value_name = "RULE")]
    deny: Vec<String>,
}

#[derive(Args)]
struct CredentialArgs {
    name: String,
    #[arg(long)]
    user: String,
    /// oauth2 (client id + secret), access-token (a bearer token used directly) or
    /// private-key-jwt (no secret: the client signs assertions with its key, RFC 7523).
    #[arg(long = "type", default_value = "oauth2")]
    kind: String,
    /// private-key-jwt: a file holding the client's public key, a JWK or a JWK set (JSON;
    /// OKP/Ed25519, EC/P-256 or RSA). Never the private key.
    #[arg(long = "public-key", value_name = "FILE")]
    public_key: Option<PathBuf>,
    /// federated: the external issuer whose tokens the workload presents (their `iss`), e.g.
    /// https://token.actions.githubusercontent.com; its keys come from its OIDC discovery
    /// document unless --jwks-uri is given.
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// federated: the `sub` admitted, exact or a glob (`*`: any run of characters), e.g.
    /// system:serviceaccount:ci:builder or repo:acme/api:*.
    #[arg(long, value_name = "SUB")]
    subject: Option<String>,
    /// federated: the `aud` the tokens must name (default: this gateway's issuer).
    #[arg(long, value_name = "AUD")]
    audience: Option<String>,
    /// federated: the issuer's JWKS URL, instead of its discovery document's jwks_uri;
    /// private-key-jwt: where the client publishes its public keys, instead of --public-key.
    #[arg(long = "jwks-uri", value_name = "URL")]
    jwks_uri: Option<String>,
    /// Lifetime, e.g. 30d, 12h, 90m.
    #[arg(long = "expire-in")]
    expire_in: Option<String>,
    /// Scope ceiling (repeatable or space-separated), e.g. service:my-api, service:*.
    #[arg(long)]
    scope: Vec<String>,
    /// May introspect (RFC 7662) other clients' tokens, as a resource server does. Without
    /// it the credential learns only about its own tokens.
    #[arg(long = "can-introspect")]
    can_introspect: bool,
    /// Token requests it may make, then it is refused (a one-time bootstrap credential: 1).
    /// oauth2 only.
    #[arg(long = "max-uses", value_name = "N")]
    max_uses: Option<i64>,
    /// Refuse token requests without a DPoP proof (RFC 9449): every token it gets is bound to
    /// the client's key and useless without it. oauth2 only.
    #[arg(long = "require-dpop")]
    require_dpop: bool,
}

#[derive(Subcommand)]
enum RotateWhat {
    #[command(visible_aliases = ["cred", "creds", "credentials"])]
    Credential {
        name: String,
        /// How long the previous secret (or access token) keeps working: e.g. 1h, 30m, 7d, or 0
        /// to refuse it at once (a leaked secret). At most 31d. Tokens obtained with it expire
        /// at the grace's end.
        #[arg(long, value_name = "DURATION", default_value = "1h")]
        grace: String,
    },
}

#[derive(Args)]
struct UpdateArgs {
    name: String,
    /// Refuse the credential at the token endpoint and its tokens on services (every isolate
    /// within the cache TTL, ISOGATE_CACHE_TTL_MS) until --enable.
    #[arg(long, conflicts_with = "enable")]
    disable: bool,
    /// Accept it again (its unexpired tokens work again).
    #[arg(long)]
    enable: bool,
    /// A new lifetime from now, e.g. 30d, 12h; or `never`.
    #[arg(long = "expire-in", value_name = "DURATION|never")]
    expire_in: Option<String>,
    /// A new scope ceiling (repeatable or space-separated), e.g. service:my-api; service:* for
    /// every service. It narrows tokens already issued too.
    #[arg(long)]
    scope: Vec<String>,
}

#[derive(Subcommand)]
enum Kind {
    #[command(visible_aliases = ["users"])]
    User { name: Option<String> },
    #[command(visible_aliases = ["groups"])]
    Group { name: Option<String> },
    #[command(visible_aliases = ["services", "svc"])]
    Service { name: Option<String> },
    #[command(visible_aliases = ["cred", "creds", "credentials"])]
    Credential { name: Option<String> },
}

impl Kind {
    fn parts(&self) -> (&'static str, &'static str, Option<&str>) {
        match self {
            Kind::User { name } => ("users", "User", name.as_deref()),
            Kind::Group { name } => ("groups", "Group", name.as_deref()),
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
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if matches!(cli.command, Command::Keygen) {
        return keygen(cli.output == Output::Json);
    }
    let from_command_line = matches.value_source("token") == Some(ValueSource::CommandLine);
    let token = match admin_token(&cli, from_command_line) {
        Ok(token) => token,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(2);
        }
    };
    let api = Api {
        base: cli.server.clone(),
        token,
        agent: ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(30))
            .build(),
    };
    match run(&cli, &api, &ordered_rules(&matches)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The admin credential: from `--token-file`, else `--token` or ISOGATE_ADMIN_TOKEN. Warns on
/// stderr when it was given on the command line.
fn admin_token(cli: &Cli, from_command_line: bool) -> Result<String, String> {
    if from_command_line {
        eprintln!(
            "warning: --token puts the admin token in the process list and shell history; \
             set ISOGATE_ADMIN_TOKEN or use --token-file PATH instead"
        );
        if cli.token_file.is_some() {
            return Err("give the admin credential once: --token or --token-file".into());
        }
    }
    let token = match &cli.token_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --token-file {}: {e}", path.display()))?
            .trim()
            .to_owned(),
        None => cli.token.clone().unwrap_or_default(),
    };
    if token.is_empty() {
        return Err(
            "no admin credential: set ISOGATE_ADMIN_TOKEN or pass --token-file PATH".into(),
        );
    }
    Ok(token)
}

/// The `--allow` and `--deny` rules of `create service`, interleaved in the order given
/// (`allow RULE` / `deny RULE`): the order is the policy.
fn ordered_rules(matches: &ArgMatches) -> Vec<String> {
    let Some(service) = matches
        .subcommand_matches("create")
        .and_then(|m| m.subcommand_matches("service"))
    else {
        return vec![];
    };
    let mut rules: Vec<(usize, String)> = Vec::new();
    for effect in ["allow", "deny"] {
        if let (Some(values), Some(indices)) = (
            service.get_many::<String>(effect),
            service.indices_of(effect),
        ) {
            rules.extend(
                indices
                    .zip(values)
                    .map(|(i, v)| (i, format!("{effect} {v}"))),
            );
        }
    }
    rules.sort_by_key(|(i, _)| *i);
    rules.into_iter().map(|(_, r)| r).collect()
}

fn run(cli: &Cli, api: &Api, rules: &[String]) -> Result<(), String> {
    let json_out = cli.output == Output::Json;
    match &cli.command {
        Command::Create { what } => match what {
            CreateWhat::User { name, groups } => {
                let new = NewUser {
                    groups: groups.clone(),
                    name: name.clone(),
                };
                let created: OneUser = api.call("POST", "users", Some(body(&new)))?;
                confirm_created(json_out, &created, "User", name);
            }
            CreateWhat::Group { name } => {
                let new = NewGroup { name: name.clone() };
                let created: OneGroup = api.call("POST", "groups", Some(body(&new)))?;
                confirm_created(json_out, &created, "Group", name);
            }
            CreateWhat::Service(s) => {
                let new = NewService {
                    allowed_users: s.allow_users.clone(),
                    name: s.name.clone(),
                    rate_limit: s.rate_limit.clone(),
                    rules: rules.to_vec(),
                    upstream: s.upstream.clone(),
                    upstream_auth: s.upstream_auth.clone(),
                };
                let created: OneService = api.call("POST", "services", Some(body(&new)))?;
                confirm_created(json_out, &created, "Service", &s.name);
            }
            CreateWhat::Credential(c) => {
                let public_key = c.public_key.as_deref().map(read_public_key).transpose()?;
                let new = NewCredential {
                    can_introspect: c.can_introspect,
                    expire_in: c.expire_in.clone(),
                    max_uses: c.max_uses,
                    name: c.name.clone(),
                    require_dpop: c.require_dpop,
                    public_key,
                    issuer: c.issuer.clone(),
                    subject: c.subject.clone(),
                    audience: c.audience.clone(),
                    jwks_uri: c.jwks_uri.clone(),
                    scopes: scope_list(&c.scope),
                    kind: c.kind.clone(),
                    user: c.user.clone(),
                };
                let created: CreatedCredential =
                    api.call("POST", "credentials", Some(body(&new)))?;
                confirm_created(json_out, &created, "Credential", &c.name);
                if !json_out {
                    print_once(&created);
                }
            }
        },
        Command::Rotate {
            what: RotateWhat::Credential { name, grace },
        } => {
            let request = RotateCredential {
                grace: Some(grace.clone()),
            };
            let path = format!("credentials/{}/rotate", encode(name));
            let rotated: CreatedCredential = api.call("POST", &path, Some(body(&request)))?;
            if json_out {
                print_json(&rotated);
            } else {
                println!("Credential {name} successfully rotated");
                print_once(&rotated);
                let what = match rotated.access_token {
                    Some(_) => "access token",
                    None => "secret",
                };
                match rotated.credential.grace_until {
                    Some(until) if rotated.credential.state == "rotating" => {
                        println!("The previous {what} works until {}", format_unix(until))
                    }
                    _ => println!("The previous {what} no longer works"),
                }
            }
        }
        Command::Update {
            what: UpdateWhat::Credential(u),
        } => {
            let request = UpdateCredential {
                enabled: (u.disable || u.enable).then_some(u.enable),
                expire_in: u.expire_in.clone(),
                scopes: (!u.scope.is_empty()).then(|| scope_list(&u.scope)),
            };
            let path = format!("credentials/{}", encode(&u.name));
            let updated: OneCredential = api.call("PATCH", &path, Some(body(&request)))?;
            if json_out {
                print_json(&updated);
            } else {
                println!("Credential {} successfully updated", u.name);
                print_table("credentials", &[credential_row(&updated.credential)]);
            }
        }
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
                (Kind::Group { .. }, Some(n)) => show(
                    json_out,
                    &api.call::<OneGroup>("GET", &one(n), None)?,
                    |o| vec![group_row(&o.group)],
                )?,
                (Kind::Group { .. }, None) => {
                    show(json_out, &api.call::<GroupList>("GET", path, None)?, |l| {
                        l.groups.iter().map(group_row).collect()
                    })?
                }
                (Kind::Service { .. }, Some(n)) => {
                    let found = api.call::<OneService>("GET", &one(n), None)?;
                    let table = show(json_out, &found, |o| vec![service_row(&o.service)])?;
                    if let Some(rows) = table {
                        print_table(path, &rows);
                        print_rules(&found.service);
                    }
                    None
                }
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
        Command::Update {
            what: UpdateWhat::Group { name, add, remove },
        } => {
            let change = GroupChange {
                add: add.clone(),
                remove: remove.clone(),
            };
            let target = format!("groups/{}", encode(name));
            let updated: OneGroup = api.call("PATCH", &target, Some(body(&change)))?;
            if json_out {
                print_json(&updated);
            } else {
                println!("Group {name} successfully updated");
            }
        }
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
                Kind::Group { .. } => print_json_if(
                    json_out,
                    &api.call::<Deleted<DeletedGroup>>("DELETE", &target, None)?,
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

/// Scopes given as repeated or space- or comma-separated flags.
fn scope_list(flags: &[String]) -> Vec<String> {
    flags
        .iter()
        .flat_map(|s| s.split([' ', ',']))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A `--public-key` file: JSON (a JWK or a JWK set), checked by the server.
fn read_public_key(path: &Path) -> Result<isogate_core::jws::RawJwk, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|_| format!("{} is not JSON (a JWK or a JWK set)", path.display()))
}

/// The lines of what is shown once: the client id and secret, or the access token; for a
/// private-key-jwt credential the client id alone (it has no secret).
fn print_once(created: &CreatedCredential) {
    if let Some(secret) = &created.client_secret {
        println!("Client ID: {}", created.client_id);
        println!("Client Secret: {secret}");
    } else if created.access_token.is_none() {
        println!("Client ID: {}", created.client_id);
    }
    if let Some(token) = &created.access_token {
        println!("Access Token: {token}");
    }
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
    let groups = if u.groups.is_empty() {
        "-".into()
    } else {
        u.groups.join(",")
    };
    vec![
        u.name.clone(),
        u.id.to_string(),
        u.enabled.to_string(),
        groups,
    ]
}

fn group_row(g: &GroupView) -> Vec<String> {
    let members = if g.members.is_empty() {
        "-".into()
    } else {
        g.members.join(",")
    };
    vec![g.name.clone(), g.id.to_string(), members]
}

/// A service's rules, numbered in the order they are tried, as `--allow`/`--deny` take them.
fn rules_lines(s: &ServiceView) -> Vec<String> {
    s.rules
        .iter()
        .enumerate()
        .map(|(i, r)| format!("  {}. {r}", i + 1))
        .collect()
}

fn print_rules(s: &ServiceView) {
    if s.rules.is_empty() {
        return;
    }
    println!();
    println!("Rules (the first that matches decides; none matching: refused):");
    for line in rules_lines(s) {
        println!("{line}");
    }
}

/// A policy's users as `name#id`: the id is what the policy admits (a user deleted and
/// re-created under the same name has another id, and is not admitted).
fn allowed_cell(s: &ServiceView) -> String {
    if s.allowed_user_ids.is_empty() {
        return "*".into();
    }
    s.allowed_user_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let name = s.allowed_users.get(i).map_or("?", String::as_str);
            format!("{name}#{id}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn service_row(s: &ServiceView) -> Vec<String> {
    vec![
        s.name.clone(),
        s.upstream.clone(),
        allowed_cell(s),
        s.rate_limit.clone().unwrap_or_else(|| "-".into()),
        // The kind and the secret's name: never a value (the gateway has none to show).
        s.upstream_auth
            .as_ref()
            .map_or_else(|| "-".into(), |a| format!("{}:{}", a.kind, a.secret)),
        match s.rules.len() {
            0 => "-".into(),
            n => n.to_string(),
        },
    ]
}

fn credential_row(c: &CredentialView) -> Vec<String> {
    let expires = c.expires_at.map_or_else(|| "-".to_owned(), format_unix);
    let uses = c
        .max_uses
        .map_or_else(|| "-".to_owned(), |max| format!("{}/{max}", c.uses));
    vec![
        c.name.clone(),
        c.user.clone(),
        c.kind.clone(),
        c.client_id.clone(),
        list_cell(&c.scopes),
        c.state.clone(),
        expires,
        format_unix(c.created_at),
        uses,
        if c.can_introspect { "yes" } else { "no" }.into(),
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
        "users" => &["NAME", "ID", "ENABLED", "GROUPS"],
        "groups" => &["NAME", "ID", "MEMBERS"],
        "services" => &[
            "NAME",
            "UPSTREAM",
            "ALLOWED USERS",
            "RATE LIMIT",
            "UPSTREAM AUTH",
            "RULES",
        ],
        _ => &[
            "NAME",
            "USER",
            "TYPE",
            "CLIENT ID",
            "SCOPES",
            "STATE",
            "EXPIRES AT",
            "CREATED AT",
            "USES",
            "INTROSPECT",
        ],
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
    fn a_policy_shows_each_user_with_the_id_it_admits() {
        let view = ServiceView {
            allowed_user_ids: vec![2, 7],
            allowed_users: vec!["alice".into(), "bob".into()],
            created_at: 0,
            name: "s".into(),
            rate_limit: None,
            rules: vec![],
            upstream: "http://o".into(),
            upstream_auth: None,
        };
        assert_eq!(allowed_cell(&view), "alice#2,bob#7");
        let open = ServiceView {
            allowed_user_ids: vec![],
            allowed_users: vec![],
            ..view
        };
        assert_eq!(allowed_cell(&open), "*");
    }

    #[test]
    fn a_service_row_shows_the_upstream_auth_kind_and_secret_name_only() {
        let view = ServiceView {
            allowed_user_ids: vec![],
            allowed_users: vec![],
            created_at: 0,
            name: "payroll".into(),
            rate_limit: None,
            rules: vec![],
            upstream: "http://o".into(),
            upstream_auth: Some(isogate_core::admin::api::UpstreamAuthView {
                kind: "bearer".into(),
                secret: "PAYROLL_TOKEN".into(),
                spec: "bearer:PAYROLL_TOKEN".into(),
            }),
        };
        assert_eq!(service_row(&view)[4], "bearer:PAYROLL_TOKEN");
    }

    #[test]
    fn the_token_file_wins_and_a_command_line_token_with_it_is_refused() {
        let dir = std::env::temp_dir().join(format!("isogate-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "  from-the-file\n").unwrap();
        let parse = |args: &[&str]| {
            let mut all = vec!["isogate"];
            all.extend_from_slice(args);
            let matches = Cli::command().try_get_matches_from(all).unwrap();
            let from_cli = matches.value_source("token") == Some(ValueSource::CommandLine);
            admin_token(&Cli::from_arg_matches(&matches).unwrap(), from_cli)
        };
        let path = file.to_str().unwrap();
        assert_eq!(
            parse(&["--token-file", path, "get", "users"]),
            Ok("from-the-file".into())
        );
        assert_eq!(parse(&["--token", "t", "get", "users"]), Ok("t".into()));
        assert!(parse(&["--token", "t", "--token-file", path, "get", "users"]).is_err());
        let missing = parse(&["--token-file", "/nonexistent/isogate-token", "get", "users"]);
        assert!(missing.unwrap_err().starts_with("cannot read --token-file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn allow_and_deny_rules_keep_the_order_they_were_given_in() {
        let matches = Cli::command()
            .try_get_matches_from([
                "isogate",
                "create",
                "service",
                "payroll",
                "--upstream",
                "http://o",
                "--deny",
                "paths=/admin/*",
                "--allow",
                "group=finance",
                "--deny",
                "methods=DELETE",
                "--allow",
                "user=ci methods=GET paths=/reports/*",
            ])
            .unwrap();
        assert_eq!(
            ordered_rules(&matches),
            [
                "deny paths=/admin/*",
                "allow group=finance",
                "deny methods=DELETE",
                "allow user=ci methods=GET paths=/reports/*",
            ]
        );
        let view = ServiceView {
            allowed_user_ids: vec![],
            allowed_users: vec![],
            created_at: 0,
            name: "s".into(),
            rate_limit: None,
            rules: vec!["allow group=finance#1".into()],
            upstream: "http://o".into(),
            upstream_auth: None,
        };
        assert_eq!(rules_lines(&view), ["  1. allow group=finance#1"]);
    }

    #[test]
    fn a_token_starting_with_a_hyphen_is_the_tokens_value() {
        // base64url admin tokens start with `-` one time in 64 (the e2e suite met one).
        let cli = Cli::try_parse_from(["isogate", "get", "users", "--token", "-Jx_9"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cli.token.as_deref(), Some("-Jx_9"));
    }

    #[test]
    fn names_are_path_encoded() {
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
        assert_eq!(encode("my-cred.1_x"), "my-cred.1_x");
    }
}
