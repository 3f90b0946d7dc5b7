//! End-to-end check of `isogate-spin-host` with the smoke component (`smoke-component/`).
//!
//! One test per behaviour. The tests that only send requests share one host (started on first
//! use, with every interface configured); tests that stop a host or need other flags start
//! their own. This test builds nothing: `smoke.sh` builds the component and passes its path in
//! `SMOKE_COMPONENT`. Without it the tests FAIL (they never skip silently).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

// ------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 client (Connection: close) and origin server on loopback, std only.

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn split_head(raw: &[u8]) -> Option<(String, usize)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((String::from_utf8_lossy(&raw[..end]).to_string(), end + 4))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_line = String::from_utf8_lossy(&data[..nl]).to_string();
        let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size line {size_line:?}"));
        data = &data[nl + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn parse_response(raw: &[u8]) -> Resp {
    let (head, body_at) = split_head(raw).expect("no complete response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut resp = Resp {
        status,
        headers,
        body: String::new(),
    };
    let body = &raw[body_at..];
    let body = if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(body)
    } else {
        body.to_vec()
    };
    resp.body = String::from_utf8_lossy(&body).to_string();
    resp
}

fn get(port: u16, host: &str, path: &str) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to host");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

/// Loopback origin: `/hello` (buffered), `/upload` (reports how the body arrived), `/slow`
/// (chunked, second chunk 500 ms after the first).
fn start_origin() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            thread::spawn(move || {
                let _ = serve_origin(conn);
            });
        }
    });
    port
}

fn serve_origin(mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let (head, body_at) = loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(h) = split_head(&raw) {
            break h;
        }
    };
    let request_line = head.lines().next().unwrap_or("").to_string();
    let lower = head.to_ascii_lowercase();
    let chunked = lower.contains("transfer-encoding: chunked");
    let content_length: usize = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let mut body = raw[body_at..].to_vec();
    if chunked {
        while !body.ends_with(b"0\r\n\r\n") {
            let n = conn.read(&mut buf)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        body = dechunk(&body);
    } else {
        while body.len() < content_length {
            let n = conn.read(&mut buf)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
    }
    let host = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("host").then(|| v.trim().to_string())
        })
        .unwrap_or_default();

    let path = request_line.split(' ').nth(1).unwrap_or("");
    let simple = |conn: &mut TcpStream, status: &str, text: String| {
        write!(
            conn,
            "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        )
    };
    match path {
        "/hello" => simple(
            &mut conn,
            "200 OK",
            format!("hello from origin (host {host})"),
        ),
        "/upload" => simple(
            &mut conn,
            "200 OK",
            format!("chunked={chunked} body={}", String::from_utf8_lossy(&body)),
        ),
        "/slow" => {
            write!(
                conn,
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            )?;
            write!(conn, "6\r\nfirst;\r\n")?;
            conn.flush()?;
            thread::sleep(Duration::from_millis(500));
            write!(conn, "7\r\nsecond;\r\n0\r\n\r\n")?;
            conn.flush()
        }
        _ => simple(&mut conn, "404 Not Found", format!("origin has no {path}")),
    }
}

// ------------------------------------------------------------------------------------------
// Hosts: one shared by the tests that only send requests, started once; tests that need a
// host of their own (stopping it, other flags) start one.

struct Host {
    child: Child,
    port: u16,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_host(component: &str, extra: &[String], env: &[(&str, &str)]) -> Host {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_isogate-spin-host"));
    cmd.arg("--component")
        .arg(component)
        .args(["--listen", "127.0.0.1:0"])
        // The shared host lives in a static that is never dropped: it exits when this test
        // process does, because the pipe to its stdin closes then.
        .arg("--exit-on-stdin-eof")
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn isogate-spin-host");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(180))
        .expect("isogate-spin-host did not report that it listens within 180 s");
    let port = line
        .trim()
        .strip_prefix("isogate-spin-host listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first stdout line {line:?}"))
        .parse()
        .expect("port");
    Host { child, port }
}

fn smoke_component() -> String {
    let path = std::env::var("SMOKE_COMPONENT").unwrap_or_else(|_| {
        panic!(
            "SMOKE_COMPONENT is not set. This test needs the smoke component built for \
             wasm32-wasip2: run tests/spin-host/smoke.sh (it builds the component and runs \
             `SMOKE_COMPONENT=... cargo test -p isogate-spin-host`)."
        )
    });
    assert!(
        PathBuf::from(&path).is_file(),
        "SMOKE_COMPONENT={path} does not exist; build it with tests/spin-host/smoke.sh"
    );
    path
}

/// A fresh directory for one test's files, under cargo's temp dir for integration tests.
fn test_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("spin-host-smoke-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The flags of a host with every interface configured: `--sqlite-init` (a `seeded` table),
/// SQLite and key-value in files under `dir`, a variable, the origin allowed, declared labels.
fn full_host_args(dir: &std::path::Path, origin: u16) -> Vec<String> {
    let init = dir.join("init.sql");
    std::fs::write(
        &init,
        "CREATE TABLE IF NOT EXISTS seeded (v TEXT);\nINSERT INTO seeded VALUES ('from-init');\n",
    )
    .unwrap();
    let s = |p: PathBuf| p.display().to_string();
    vec![
        "--sqlite-init".into(),
        s(init),
        "--sqlite-file".into(),
        s(dir.join("db.sqlite")),
        "--kv-file".into(),
        s(dir.join("kv.sqlite")),
        "--variable".into(),
        "greeting=hi".into(),
        "--allowed-outbound-host".into(),
        format!("http://127.0.0.1:{origin}"),
        "--declare-kv-store".into(),
        "declared".into(),
        "--declare-sqlite-database".into(),
        "declared".into(),
    ]
}

const HOST_ENV: &[(&str, &str)] = &[
    ("SPIN_VARIABLE_GREETING", "overridden-by-flag"),
    ("SPIN_VARIABLE_FROM_ENV", "env-value"),
];

/// The loopback origin shared by every test.
fn origin() -> u16 {
    static ORIGIN: OnceLock<u16> = OnceLock::new();
    *ORIGIN.get_or_init(start_origin)
}

/// The host shared by the request-only tests (started on first use); its port.
fn shared_port() -> u16 {
    static SHARED: OnceLock<Host> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let dir = test_dir("shared");
            start_host(
                &smoke_component(),
                &full_host_args(&dir, origin()),
                HOST_ENV,
            )
        })
        .port
}

fn assert_contains(body: &str, wants: &[&str]) {
    for want in wants {
        assert!(body.contains(want), "missing {want:?} in:\n{body}");
    }
}

// ------------------------------------------------------------------------------------------

#[test]
fn the_component_gets_the_absolute_uri_and_the_host_header_as_sent() {
    let r = get(shared_port(), "my-api.localhost:8787", "/host?x=1");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_contains(
        &r.body,
        &[
            "host=my-api.localhost:8787\n",
            "uri=http://my-api.localhost:8787/host?x=1\n",
            "spin-full-url=http://my-api.localhost:8787/host?x=1\n",
        ],
    );
}

#[test]
fn connection_header_never_reaches_the_component() {
    // Like Spin (wasmtime-wasi-http drops forbidden headers from incoming requests): the
    // component never sees `Connection`, so it cannot know which headers it named; those
    // headers themselves arrive. tests/e2e/services.test.mjs relies on this to skip its
    // Connection-listed case on Spin.
    let port = shared_port();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET /headers HTTP/1.1\r\nHost: localhost\r\nConnection: close, x-hop\r\nX-Hop: 1\r\nX-Kept: 2\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let r = parse_response(&raw);
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<&str> = r
        .body
        .lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k))
        .collect();
    assert!(!names.contains(&"connection"), "{}", r.body);
    assert_contains(&r.body, &["x-hop: 1\n", "x-kept: 2\n", "host: localhost\n"]);
}

#[test]
fn key_value_set_get_exists_keys_delete_and_label_errors() {
    let r = get(shared_port(), "localhost", "/kv");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_contains(
        &r.body,
        &[
            "get=smoke-value\n",
            "exists=true\n",
            "keys=[\"smoke-key\"]\n",
            "after-delete=None\n",
            "other=Some(Error::AccessDenied)\n",
            "declared=Some(Error::NoSuchStore)\n",
        ],
    );
}

#[test]
fn sqlite_every_value_kind_init_sql_errors_and_state_across_instances() {
    // Only this test sends /sqlite to the shared host: its rows are numbered from 1.
    let port = shared_port();
    let r = get(port, "localhost", "/sqlite");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_contains(
        &r.body,
        &[
            "columns=[\"id\", \"name\", \"score\", \"data\", \"note\"]\n",
            "row=[Value::Integer(1), Value::Text(\"alice\"), Value::Real(2.5), Value::Blob([1, 2, 3]), Value::Null]\n",
            "other=Some(Error::AccessDenied)\n",
            "declared=Some(Error::NoSuchDatabase)\n",
            "bad-sql=true\n",
            "seeded=[[Value::Text(\"from-init\")]]\n",
        ],
    );
    // A second request is a new instance and sees the first one's row.
    let r = get(port, "localhost", "/sqlite");
    assert_contains(&r.body, &["row=[Value::Integer(2),"]);
}

#[test]
fn variables_from_flag_over_env_from_env_undefined_and_invalid() {
    let r = get(shared_port(), "localhost", "/variables");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_contains(
        &r.body,
        &[
            "greeting=Ok(\"hi\")\n",
            "from_env=Ok(\"env-value\")\n",
            "missing=Err(Error::Undefined(",
            "bad=Err(Error::InvalidName(",
        ],
    );
}

#[test]
fn buffered_outbound_http_to_an_allowed_origin() {
    let origin = origin();
    let r = get(
        shared_port(),
        "localhost",
        &format!("/outbound?to=http://127.0.0.1:{origin}/hello"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_contains(
        &r.body,
        &[
            "status=200\n",
            &format!("body=hello from origin (host 127.0.0.1:{origin})"),
        ],
    );
}

#[test]
fn outbound_request_with_a_streamed_chunked_body() {
    let r = get(
        shared_port(),
        "localhost",
        &format!("/outbound-upload?to=http://127.0.0.1:{}", origin()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_contains(
        &r.body,
        &[
            "status=200\n",
            "body=chunked=true body=chunk-0;chunk-1;chunk-2;",
        ],
    );
}

#[test]
fn slow_origin_response_is_streamed_first_chunk_before_the_rest() {
    // The first chunk reaches the client long before the origin sends the second (500 ms later).
    let port = shared_port();
    let started = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET /outbound-stream?to=http://127.0.0.1:{} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        origin()
    )
    .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    let mut first_at = None;
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if first_at.is_none() && raw.windows(6).any(|w| w == b"first;") {
            first_at = Some(started.elapsed());
            assert!(
                !raw.windows(7).any(|w| w == b"second;"),
                "both chunks arrived together: the body was not streamed"
            );
        }
    }
    let total = started.elapsed();
    let r = parse_response(&raw);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "first;second;");
    let first_at = first_at.expect("first chunk never seen");
    assert!(
        total - first_at >= Duration::from_millis(300),
        "first chunk at {first_at:?}, end at {total:?}: not streamed"
    );
}

#[test]
fn outbound_host_outside_the_allow_list_is_refused() {
    let r = get(
        shared_port(),
        "localhost",
        &format!("/outbound?to=http://localhost:{}/hello", origin()),
    );
    assert_eq!(r.status, 502, "{}", r.body);
    assert_contains(&r.body, &["HttpRequestDenied"]);
}

#[test]
fn outbound_request_with_a_forwarded_foreign_host_is_refused() {
    let r = get(
        shared_port(),
        "localhost",
        &format!(
            "/outbound-foreign-host?to=http://127.0.0.1:{}/hello",
            origin()
        ),
    );
    assert_eq!(r.status, 502, "{}", r.body);
    assert_contains(&r.body, &["HttpRequestDenied"]);
}

#[test]
fn a_trap_is_a_500_for_that_request_only() {
    let port = shared_port();
    let r = get(port, "localhost", "/trap");
    assert_eq!(r.status, 500, "{}", r.body);
    assert_contains(&r.body, &["unreachable"]);
    let r = get(port, "localhost", "/host");
    assert_eq!(r.status, 200, "host still serves after a trap: {}", r.body);
}

#[test]
fn an_unknown_route_is_answered_by_the_component() {
    let r = get(shared_port(), "localhost", "/nope");
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/plain"));
}

#[test]
fn sqlite_and_key_value_files_hold_the_data_after_the_host_stops() {
    let dir = test_dir("files");
    let host = start_host(
        &smoke_component(),
        &full_host_args(&dir, origin()),
        HOST_ENV,
    );
    for path in ["/sqlite", "/sqlite", "/kv"] {
        let r = get(host.port, "localhost", path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    drop(host);
    let db = rusqlite::Connection::open(dir.join("db.sqlite")).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM smoke", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2);
    let kv = rusqlite::Connection::open(dir.join("kv.sqlite")).unwrap();
    let v: Vec<u8> = kv
        .query_row(
            "SELECT value FROM spin_key_value WHERE store = 'default' AND key = 'persisted'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, b"kept");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_flags_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_isogate-spin-host"))
        .args([
            "--component",
            "x.wasm",
            "--allowed-outbound-host",
            "ftp://x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unsupported scheme"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_isogate-spin-host"))
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--component PATH.wasm is required"));
}

/// A number field of the `--stats-listen` JSON (`"name":N`).
fn stat(json: &str, name: &str) -> u64 {
    let key = format!("\"{name}\":");
    let at = json
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {json}"))
        + key.len();
    json[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number in {json}"))
}

#[test]
fn stats_count_each_requests_statements_key_value_calls_and_instantiation() {
    let dir = test_dir("stats");
    let stats_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut args = full_host_args(&dir, origin());
    args.extend(["--stats-listen".into(), format!("127.0.0.1:{stats_port}")]);
    let host = start_host(&smoke_component(), &args, HOST_ENV);
    let read = || get(stats_port, "localhost", "/").body;
    let before = read();
    assert_eq!(stat(&before, "requests"), 0, "{before}");
    assert_eq!(get(host.port, "localhost", "/sqlite").status, 200);
    let one = read();
    let per_request = stat(&one, "sqlite_statements");
    assert!(per_request > 0, "{one}");
    assert_eq!(stat(&one, "kv_ops"), 0, "{one}");
    // Each request is its own instance, timed; the same route runs the same statements again.
    assert_eq!(get(host.port, "localhost", "/sqlite").status, 200);
    assert_eq!(get(host.port, "localhost", "/kv").status, 200);
    let three = read();
    assert_eq!(stat(&three, "requests"), 3, "{three}");
    assert_eq!(stat(&three, "instantiations"), 3, "{three}");
    assert!(stat(&three, "instantiate_ns") > 0, "{three}");
    assert_eq!(
        stat(&three, "sqlite_statements"),
        2 * per_request,
        "{three}"
    );
    assert!(stat(&three, "kv_ops") > 0, "{three}");
    // Statement texts, never parameters.
    assert!(three.contains("\"sqlite_by_statement\":{\""), "{three}");
    assert!(!three.contains("alice"), "a bound value leaked: {three}");
    drop(host);
    let _ = std::fs::remove_dir_all(&dir);
}
