//! Smoke-test component for `isogate-spin-host`: one route per host interface it implements.
//! Every route answers plain text; `tests/smoke.rs` checks it.

use futures::{SinkExt, StreamExt};
use spin_sdk::http::{
    Fields, IncomingRequest, IncomingResponse, Method, OutgoingRequest, OutgoingResponse, Request,
    Response, ResponseOutparam, Scheme,
};
use spin_sdk::{http_component, key_value, sqlite, variables};

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let uri = req.uri();
    let path_and_query = req.path_with_query().unwrap_or_default();
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (path_and_query.clone(), String::new()),
    };
    // `to=` is always the last parameter and is not URL-encoded by the test.
    let to = query
        .split_once("to=")
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();

    match path.as_str() {
        "/host" => {
            let host = header(&req, "host");
            let full = header(&req, "spin-full-url");
            respond(
                out,
                200,
                format!("host={host}\nuri={uri}\nspin-full-url={full}\n"),
            )
            .await
        }
        "/headers" => {
            // Every request header the component received, one `name: value` line each, sorted.
            let mut lines: Vec<String> = req
                .headers()
                .entries()
                .into_iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        k.to_ascii_lowercase(),
                        String::from_utf8_lossy(&v)
                    )
                })
                .collect();
            lines.sort();
            respond(out, 200, lines.join("\n") + "\n").await
        }
        "/kv" => respond(out, 200, kv()).await,
        "/sqlite" => respond(out, 200, sql()).await,
        "/variables" => {
            let mut s = String::new();
            s += &format!("greeting={:?}\n", variables::get("greeting"));
            s += &format!("missing={:?}\n", variables::get("missing"));
            s += &format!("bad={:?}\n", variables::get("Bad-Name"));
            s += &format!("from_env={:?}\n", variables::get("from_env"));
            respond(out, 200, s).await
        }
        // Buffered outbound request with spin_sdk::http::send.
        "/outbound" => match spin_sdk::http::send::<_, Response>(Request::get(&to)).await {
            Ok(resp) => {
                let body = String::from_utf8_lossy(resp.body()).to_string();
                respond(out, 200, format!("status={}\nbody={body}\n", resp.status())).await
            }
            Err(e) => respond(out, 502, format!("send failed: {e:?}\n")).await,
        },
        // Outbound request with a streamed (chunked) request body, through wasi:http directly.
        "/outbound-upload" => match upload(&to).await {
            Ok(s) => respond(out, 200, s).await,
            Err(e) => respond(out, 502, e).await,
        },
        // Outbound response body streamed through to the client chunk by chunk.
        "/outbound-stream" => stream_through(&to, out).await,
        // Forwarding a foreign Host header: Spin refuses that request.
        "/outbound-foreign-host" => {
            let req = Request::builder()
                .method(Method::Get)
                .uri(&to)
                .header("host", "my-api.localhost:8787")
                .build();
            match spin_sdk::http::send::<_, Response>(req).await {
                Ok(resp) => respond(out, 200, format!("status={}\n", resp.status())).await,
                Err(e) => respond(out, 502, format!("send failed: {e:?}\n")).await,
            }
        }
        "/trap" => panic!("smoke component traps on purpose"),
        _ => respond(out, 404, format!("no route for {path}\n")).await,
    }
}

fn header(req: &IncomingRequest, name: &str) -> String {
    req.headers()
        .get(&name.to_string())
        .first()
        .map(|v| String::from_utf8_lossy(v).to_string())
        .unwrap_or_default()
}

async fn respond(out: ResponseOutparam, status: u16, body: String) {
    let headers =
        Fields::from_list(&[("content-type".to_string(), b"text/plain".to_vec())]).unwrap();
    let resp = OutgoingResponse::new(headers);
    resp.set_status_code(status).unwrap();
    out.set_with_body(resp, body.into_bytes()).await.unwrap();
}

fn kv() -> String {
    let mut s = String::new();
    let store = key_value::Store::open_default().unwrap();
    store.set("smoke-key", b"smoke-value").unwrap();
    let got = store.get("smoke-key").unwrap();
    s += &format!(
        "get={}\n",
        String::from_utf8_lossy(&got.unwrap_or_default())
    );
    s += &format!("exists={}\n", store.exists("smoke-key").unwrap());
    s += &format!("keys={:?}\n", store.get_keys().unwrap());
    store.delete("smoke-key").unwrap();
    s += &format!("after-delete={:?}\n", store.get("smoke-key").unwrap());
    s += &format!("other={:?}\n", key_value::Store::open("other").err());
    s += &format!("declared={:?}\n", key_value::Store::open("declared").err());
    // Left in place so that the test can find it in the --kv-file.
    store.set("persisted", b"kept").unwrap();
    s
}

fn sql() -> String {
    use sqlite::Value;
    let mut s = String::new();
    let db = sqlite::Connection::open_default().unwrap();
    db.execute(
        "CREATE TABLE IF NOT EXISTS smoke (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB, note TEXT)",
        &[],
    )
    .unwrap();
    db.execute(
        "INSERT INTO smoke (name, score, data, note) VALUES (?, ?, ?, ?)",
        &[
            Value::Text("alice".into()),
            Value::Real(2.5),
            Value::Blob(vec![1, 2, 3]),
            Value::Null,
        ],
    )
    .unwrap();
    let res = db
        .execute(
            "SELECT id, name, score, data, note FROM smoke WHERE name = ? AND id >= ?",
            &[Value::Text("alice".into()), Value::Integer(1)],
        )
        .unwrap();
    s += &format!("columns={:?}\n", res.columns);
    for row in &res.rows {
        s += &format!("row={:?}\n", row.values);
    }
    s += &format!("other={:?}\n", sqlite::Connection::open("other").err());
    s += &format!(
        "declared={:?}\n",
        sqlite::Connection::open("declared").err()
    );
    // Created by the host's --sqlite-init file.
    match db.execute("SELECT v FROM seeded", &[]) {
        Ok(r) => {
            s += &format!(
                "seeded={:?}\n",
                r.rows.iter().map(|r| &r.values).collect::<Vec<_>>()
            )
        }
        Err(e) => s += &format!("seeded-error={e:?}\n"),
    }
    s += &format!(
        "bad-sql={:?}\n",
        db.execute("SELECT nope FROM smoke", &[]).is_err()
    );
    s
}

fn outgoing(method: Method, to: &str, path: &str) -> Result<OutgoingRequest, String> {
    let rest = to
        .strip_prefix("http://")
        .ok_or("to= must be an http:// origin")?;
    let authority = rest.trim_end_matches('/');
    let req = OutgoingRequest::new(Fields::new());
    req.set_method(&method).map_err(|_| "method")?;
    req.set_scheme(Some(&Scheme::Http)).map_err(|_| "scheme")?;
    req.set_authority(Some(authority))
        .map_err(|_| "authority")?;
    req.set_path_with_query(Some(path)).map_err(|_| "path")?;
    Ok(req)
}

async fn upload(to: &str) -> Result<String, String> {
    let req = outgoing(Method::Post, to, "/upload")?;
    let mut body = req.take_body();
    let send = spin_sdk::http::send::<_, IncomingResponse>(req);
    let write = async move {
        for i in 0..3 {
            body.send(format!("chunk-{i};").into_bytes())
                .await
                .map_err(|e| format!("{e:?}"))?;
        }
        drop(body); // finishes the request body
        Ok::<(), String>(())
    };
    let (resp, written) = futures::join!(send, write);
    written?;
    let resp = resp.map_err(|e| format!("send failed: {e:?}"))?;
    let status = resp.status();
    let body = resp.into_body().await.map_err(|e| format!("{e:?}"))?;
    Ok(format!(
        "status={status}\nbody={}\n",
        String::from_utf8_lossy(&body)
    ))
}

async fn stream_through(to: &str, out: ResponseOutparam) {
    let req = match outgoing(Method::Get, to, "/slow") {
        Ok(r) => r,
        Err(e) => return respond(out, 400, e).await,
    };
    let resp: IncomingResponse = match spin_sdk::http::send(req).await {
        Ok(r) => r,
        Err(e) => return respond(out, 502, format!("send failed: {e:?}\n")).await,
    };
    let headers =
        Fields::from_list(&[("content-type".to_string(), b"text/plain".to_vec())]).unwrap();
    let response = OutgoingResponse::new(headers);
    response.set_status_code(resp.status()).unwrap();
    let mut sink = response.take_body();
    out.set(response);
    let mut stream = resp.take_body_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                if sink.send(bytes).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                eprintln!("smoke: upstream body error: {e:?}");
                return;
            }
        }
    }
}
