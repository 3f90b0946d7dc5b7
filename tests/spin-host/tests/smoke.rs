//! End-to-end check of `isogate-spin-host` with the smoke component (`smoke-component/`).
//!
//! This test builds nothing: `smoke.sh` builds the component and passes its path in
//! `SMOKE_COMPONENT`. Without it the test FAILS (it never skips silently).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
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
        .args(extra)
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

#[test]
fn smoke_component_runs_with_every_host_interface() {
    let component = smoke_component();
    let origin = start_origin();
    let dir = std::env::temp_dir().join(format!("isogate-spin-host-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let init = dir.join("init.sql");
    std::fs::write(
        &init,
        "CREATE TABLE IF NOT EXISTS seeded (v TEXT);\nINSERT INTO seeded VALUES ('from-init');\n",
    )
    .unwrap();
    let db_file = dir.join("db.sqlite");
    let kv_file = dir.join("kv.sqlite");
    let s = |p: &PathBuf| p.display().to_string();
    let args: Vec<String> = [
        "--sqlite-init",
        &s(&init),
        "--sqlite-file",
        &s(&db_file),
        "--kv-file",
        &s(&kv_file),
        "--variable",
        "greeting=hi",
        "--allowed-outbound-host",
        &format!("http://127.0.0.1:{origin}"),
        "--declare-kv-store",
        "declared",
        "--declare-sqlite-database",
        "declared",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let host = start_host(
        &component,
        &args,
        &[
            ("SPIN_VARIABLE_GREETING", "overridden-by-flag"),
            ("SPIN_VARIABLE_FROM_ENV", "env-value"),
        ],
    );
    let port = host.port;
    let mut checks = 0;

    // 1. Absolute URI from the Host header; Host preserved.
    let r = get(port, "my-api.localhost:8787", "/host?x=1");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("host=my-api.localhost:8787\n"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("uri=http://my-api.localhost:8787/host?x=1\n"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("spin-full-url=http://my-api.localhost:8787/host?x=1\n"),
        "{}",
        r.body
    );
    checks += 1;

    // 2. Key-value: set/get/exists/keys/delete, and the errors for other labels.
    let r = get(port, "localhost", "/kv");
    assert_eq!(r.status, 200, "{}", r.body);
    for want in [
        "get=smoke-value\n",
        "exists=true\n",
        "keys=[\"smoke-key\"]\n",
        "after-delete=None\n",
        "other=Some(Error::AccessDenied)\n",
        "declared=Some(Error::NoSuchStore)\n",
    ] {
        assert!(r.body.contains(want), "missing {want:?} in {}", r.body);
    }
    checks += 1;

    // 3. SQLite: create/insert/select with parameters of every kind, state shared across
    //    instances (one instance per request), --sqlite-init ran, errors for other names.
    let r = get(port, "localhost", "/sqlite");
    assert_eq!(r.status, 200, "{}", r.body);
    for want in [
        "columns=[\"id\", \"name\", \"score\", \"data\", \"note\"]\n",
        "row=[Value::Integer(1), Value::Text(\"alice\"), Value::Real(2.5), Value::Blob([1, 2, 3]), Value::Null]\n",
        "other=Some(Error::AccessDenied)\n",
        "declared=Some(Error::NoSuchDatabase)\n",
        "bad-sql=true\n",
        "seeded=[[Value::Text(\"from-init\")]]\n",
    ] {
        assert!(r.body.contains(want), "missing {want:?} in {}", r.body);
    }
    let r = get(port, "localhost", "/sqlite");
    assert!(
        r.body.contains("row=[Value::Integer(2),"),
        "second request sees first: {}",
        r.body
    );
    checks += 1;

    // 4. Variables: flag (wins over env), env, undefined, invalid name.
    let r = get(port, "localhost", "/variables");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("greeting=Ok(\"hi\")\n"), "{}", r.body);
    assert!(
        r.body.contains("from_env=Ok(\"env-value\")\n"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("missing=Err(Error::Undefined("),
        "{}",
        r.body
    );
    assert!(r.body.contains("bad=Err(Error::InvalidName("), "{}", r.body);
    checks += 1;

    // 5. Buffered outbound HTTP to an allowed loopback origin.
    let r = get(
        port,
        "localhost",
        &format!("/outbound?to=http://127.0.0.1:{origin}/hello"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("status=200\n"), "{}", r.body);
    assert!(
        r.body
            .contains(&format!("body=hello from origin (host 127.0.0.1:{origin})")),
        "{}",
        r.body
    );
    checks += 1;

    // 6. Outbound request with a streamed (chunked) body.
    let r = get(
        port,
        "localhost",
        &format!("/outbound-upload?to=http://127.0.0.1:{origin}"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("status=200\n"), "{}", r.body);
    assert!(
        r.body
            .contains("body=chunked=true body=chunk-0;chunk-1;chunk-2;"),
        "{}",
        r.body
    );
    checks += 1;

    // 7. Outbound response streamed through: the first chunk reaches the client long before
    //    the origin sends the second one (500 ms later).
    {
        let started = Instant::now();
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(
            s,
            "GET /outbound-stream?to=http://127.0.0.1:{origin} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
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
    checks += 1;

    // 8. Outbound host outside the allow-list: refused with HttpRequestDenied.
    let r = get(
        port,
        "localhost",
        &format!("/outbound?to=http://localhost:{origin}/hello"),
    );
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("HttpRequestDenied"), "{}", r.body);
    checks += 1;

    // 9. A forwarded foreign Host header is refused too (as Spin does).
    let r = get(
        port,
        "localhost",
        &format!("/outbound-foreign-host?to=http://127.0.0.1:{origin}/hello"),
    );
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("HttpRequestDenied"), "{}", r.body);
    checks += 1;

    // 10. A trap becomes a 500 for that request only; the host keeps serving.
    let r = get(port, "localhost", "/trap");
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.body.contains("unreachable"), "{}", r.body);
    let r = get(port, "localhost", "/host");
    assert_eq!(r.status, 200, "host still serves after a trap: {}", r.body);
    checks += 1;

    // 11. Unknown route answered by the component itself.
    let r = get(port, "localhost", "/nope");
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    checks += 1;

    drop(host);

    // 12. --sqlite-file and --kv-file hold the data after the host has stopped.
    let db = rusqlite::Connection::open(&db_file).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM smoke", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2);
    let kv = rusqlite::Connection::open(&kv_file).unwrap();
    let v: Vec<u8> = kv
        .query_row(
            "SELECT value FROM spin_key_value WHERE store = 'default' AND key = 'persisted'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, b"kept");
    checks += 1;

    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("smoke: {checks} checks passed");
    assert_eq!(checks, 12);
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
