//! Counters for the benchmark (`--stats-listen ADDR`, bench/spin.mjs): what the component asked
//! of the host, measured here rather than guessed. Off unless the flag is given; then every
//! SQLite statement, key-value call and instantiation is counted, and `GET` on ADDR (any path)
//! answers the totals since start as one JSON object:
//!
//! ```text
//! {"requests":N,"instantiations":N,"instantiate_ns":N,"sqlite_statements":N,"kv_ops":N,
//!  "sqlite_by_statement":{"SELECT ...":N,...}}
//! ```
//!
//! A client takes the difference of two readings around what it measures. Statement texts
//! only, never parameters (they may be secrets' hashes or token ids), as `--log-sql` does.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::net::TcpListener;
use wasmtime_wasi_http::io::TokioIo;

#[derive(Default)]
pub struct Stats {
    requests: AtomicU64,
    instantiations: AtomicU64,
    instantiate_ns: AtomicU64,
    sqlite_statements: AtomicU64,
    kv_ops: AtomicU64,
    by_statement: Mutex<HashMap<String, u64>>,
}

impl Stats {
    pub fn request(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    pub fn instantiated(&self, took: Duration) {
        self.instantiations.fetch_add(1, Relaxed);
        self.instantiate_ns
            .fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    pub fn sqlite(&self, statement: &str) {
        self.sqlite_statements.fetch_add(1, Relaxed);
        let mut by = self.by_statement.lock().unwrap_or_else(|p| p.into_inner());
        match by.get_mut(statement) {
            Some(n) => *n += 1,
            None => {
                by.insert(statement.to_string(), 1);
            }
        }
    }

    pub fn kv(&self) {
        self.kv_ops.fetch_add(1, Relaxed);
    }

    fn json(&self) -> String {
        let mut s = format!(
            "{{\"requests\":{},\"instantiations\":{},\"instantiate_ns\":{},\"sqlite_statements\":{},\"kv_ops\":{},\"sqlite_by_statement\":{{",
            self.requests.load(Relaxed),
            self.instantiations.load(Relaxed),
            self.instantiate_ns.load(Relaxed),
            self.sqlite_statements.load(Relaxed),
            self.kv_ops.load(Relaxed),
        );
        let by = self.by_statement.lock().unwrap_or_else(|p| p.into_inner());
        for (i, (statement, n)) in by.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(s, "{sep}{}:{n}", json_string(statement));
        }
        s.push_str("}}");
        s
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Serves the totals on `addr` (bound before the host reports itself ready).
pub async fn serve(addr: SocketAddr, stats: Arc<Stats>) -> wasmtime::Result<()> {
    use wasmtime::error::Context as _;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding --stats-listen {addr}"))?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let stats = stats.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    let body = Full::new(Bytes::from(stats.json()));
                    async move {
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(body)
                                .expect("static response"),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_json_with_statement_texts_escaped() {
        let stats = Stats::default();
        stats.request();
        stats.instantiated(Duration::from_micros(3));
        stats.sqlite("SELECT \"a\" FROM t");
        stats.sqlite("SELECT \"a\" FROM t");
        stats.kv();
        assert_eq!(
            stats.json(),
            r#"{"requests":1,"instantiations":1,"instantiate_ns":3000,"sqlite_statements":2,"kv_ops":1,"sqlite_by_statement":{"SELECT \"a\" FROM t":2}}"#
        );
    }
}
