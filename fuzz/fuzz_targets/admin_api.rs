//! The admin API's JSON and routing, through the gateway as a runtime drives it
//! (`testing::Harness`: the real migrations on in-memory SQLite).
//!
//! Invariants: every answer is JSON; nothing is ever a 5xx (storage cannot fail here); a 2xx
//! needs the admin credential; every refusal is a clean 4xx of the documented shape; what a
//! 201 says was created can be read back.
#![no_main]

use arbitrary::Arbitrary;
use isogate_core::testing::{head, Harness, ADMIN_TOKEN, DOMAIN};
use isogate_fuzz::{assert_clean_refusal, assert_no_secret};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

thread_local! {
    static H: Harness = Harness::seeded().0;
}

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Name(u8),
    Array(Vec<Json>),
    Object(Vec<(Key, Json)>),
}

#[derive(Arbitrary, Debug)]
enum Key {
    Name,
    Upstream,
    AllowedUsers,
    User,
    Type,
    Scopes,
    ExpireIn,
    Other(String),
}

impl Json {
    fn value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => json!(b),
            Json::Int(i) => json!(i),
            Json::Float(f) => json!(f),
            Json::Str(s) => json!(s),
            Json::Name(n) => json!(
                [
                    "root",
                    "alice",
                    "my-api",
                    "fz",
                    "http://127.0.0.1:9000",
                    "oauth2",
                    "access-token",
                    "service:*",
                    "30d"
                ][*n as usize % 9]
            ),
            Json::Array(items) => Value::Array(items.iter().map(Json::value).collect()),
            Json::Object(fields) => {
                let mut m = Map::new();
                for (k, v) in fields {
                    let k = match k {
                        Key::Name => "name".into(),
                        Key::Upstream => "upstream".into(),
                        Key::AllowedUsers => "allowed_users".into(),
                        Key::User => "user".into(),
                        Key::Type => "type".into(),
                        Key::Scopes => "scopes".into(),
                        Key::ExpireIn => "expire_in".into(),
                        Key::Other(s) => s.clone(),
                    };
                    m.insert(k, v.value());
                }
                Value::Object(m)
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Body {
    Json(Json),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    collection: u8,
    name: Option<String>,
    extra_path: Option<String>,
    auth: u8,
    body: Body,
}

fuzz_target!(|input: Input| H.with(|h| {
    let method = ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD"][input.method as usize % 6];
    let collection =
        ["users", "services", "credentials", "nope", ""][input.collection as usize % 5];
    let mut path = format!("/admin/v1/{collection}");
    if let Some(n) = &input.name {
        path.push('/');
        path.push_str(n);
    }
    if let Some(x) = &input.extra_path {
        path.push_str(x);
    }
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let lower = format!("bearer {ADMIN_TOKEN}");
    let wrong = format!("Bearer {ADMIN_TOKEN}x");
    let auth = [
        Some(admin.as_str()),
        Some(lower.as_str()),
        Some(wrong.as_str()),
        None,
    ][input.auth as usize % 4];
    let body = match &input.body {
        Body::Json(j) => serde_json::to_vec(&j.value()).unwrap(),
        Body::Raw(b) => b.clone(),
    };
    let mut headers = vec![("content-type", "application/json")];
    headers.extend(auth.map(|a| ("authorization", a)));
    let r = h.root(&head(method, DOMAIN, &path, None, &headers), &body);
    let what = format!("{method} {path}");
    // The admin token may come back only where the request itself put it (a name, say).
    let echoed = path.contains(ADMIN_TOKEN) || String::from_utf8_lossy(&body).contains(ADMIN_TOKEN);
    let secrets: &[&str] = if echoed { &[] } else { &[ADMIN_TOKEN] };
    assert!(
        r.status < 500,
        "{what}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    assert!(
        serde_json::from_slice::<Value>(&r.body).is_ok(),
        "{what}: not JSON"
    );
    if r.status >= 400 {
        assert_clean_refusal(&r, &what, secrets);
        return;
    }
    assert!(
        input.auth % 4 < 2,
        "{what}: {} without the admin credential",
        r.status
    );
    assert_no_secret(&r, &what, secrets);
    if r.status == 201 {
        let created: Value = serde_json::from_slice(&r.body).unwrap();
        let (kind, obj) = ["user", "service", "credential"]
            .iter()
            .find_map(|k| created.get(*k).map(|o| (*k, o)))
            .expect("the created user, service or credential");
        let name = obj["name"].as_str().expect("a name");
        let back = h.admin("GET", &format!("/admin/v1/{kind}s/{name}"), None);
        assert_eq!(
            back.status, 200,
            "{what}: created {kind} {name:?} cannot be read back"
        );
    }
}));
